package config

import "reflect"

var reflectTypeOfConfig = reflect.TypeOf(Config{})
