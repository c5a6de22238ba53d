package probes

import (
	"math/big"
	"reflect"
	"regexp"
	"time"

	"github.com/probed/probed/config"
)

// sameProbe reports whether two configurations of a probe would build the
// same prober, so that a reload leaves the probe running untouched. It
// compares every key and everything parsed at load from the files the keys
// name (certificates, roots, keys, secret headers), so replacing a CA file
// behind an unchanged path does restart the probe. Where a parsed value
// cannot be compared it answers false: a needless restart is harmless,
// keeping a stale prober is not. The probe's line in the file is ignored.
func sameProbe(a, b *config.Probe) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	for i := range t.NumField() {
		if t.Field(i).Name == "Line" {
			continue
		}
		if !sameValue(va.Field(i), vb.Field(i), 0) {
			return false
		}
	}
	return true
}

var (
	bigIntType   = reflect.TypeFor[*big.Int]()
	regexpType   = reflect.TypeFor[*regexp.Regexp]()
	locationType = reflect.TypeFor[*time.Location]()
	boolType     = reflect.TypeFor[bool]()
)

// sameValue compares two values of one type structurally, using the type's
// own Equal method where it has one (certificates, pools, public and
// private keys), since their internals hold caches and functions.
func sameValue(a, b reflect.Value, depth int) bool {
	if depth > 32 {
		return false
	}
	if a.Type() != b.Type() {
		return false
	}
	if a.CanInterface() && b.CanInterface() {
		switch a.Type() {
		case bigIntType:
			x, y := a.Interface().(*big.Int), b.Interface().(*big.Int)
			return (x == nil) == (y == nil) && (x == nil || x.Cmp(y) == 0)
		case regexpType:
			x, y := a.Interface().(*regexp.Regexp), b.Interface().(*regexp.Regexp)
			return (x == nil) == (y == nil) && (x == nil || x.String() == y.String())
		case locationType:
			x, y := a.Interface().(*time.Location), b.Interface().(*time.Location)
			return (x == nil) == (y == nil) && (x == nil || x.String() == y.String())
		}
		if eq, ok := equalMethod(a); ok {
			if a.Kind() == reflect.Pointer && (a.IsNil() || b.IsNil()) {
				return a.IsNil() && b.IsNil()
			}
			arg := b
			if !arg.Type().AssignableTo(eq.Type().In(0)) {
				return false
			}
			return eq.Call([]reflect.Value{arg})[0].Bool()
		}
	}
	switch a.Kind() {
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Complex64, reflect.Complex128:
		return a.Complex() == b.Complex()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		if a.Pointer() == b.Pointer() {
			return true
		}
		return sameValue(a.Elem(), b.Elem(), depth+1)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem(), depth+1)
	case reflect.Slice:
		if a.IsNil() != b.IsNil() && (a.Len() > 0 || b.Len() > 0) {
			return false
		}
		fallthrough
	case reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		it := a.MapRange()
		for it.Next() {
			w := b.MapIndex(it.Key())
			if !w.IsValid() || !sameValue(it.Value(), w, depth+1) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.IsNil() && b.IsNil()
	}
	return false
}

// equalMethod finds an `Equal(x) bool` method of one argument, as
// *x509.Certificate, *x509.CertPool and the crypto keys have.
func equalMethod(v reflect.Value) (reflect.Value, bool) {
	m := v.MethodByName("Equal")
	if !m.IsValid() {
		return reflect.Value{}, false
	}
	mt := m.Type()
	if mt.NumIn() != 1 || mt.NumOut() != 1 || mt.Out(0) != boolType {
		return reflect.Value{}, false
	}
	return m, true
}
