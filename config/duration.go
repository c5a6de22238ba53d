package config

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in Prometheus style: 30s, 5m, 1h30m, 7d.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints the duration in Prometheus style.
func (d Duration) String() string { return model.Duration(d).String() }

// UnmarshalYAML parses a Prometheus-style duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as 30s, 5m or 7d", n.Line)}}
	}
	v, err := model.ParseDuration(n.Value)
	if err != nil {
		// A TypeError (not a plain error) lets yaml go on decoding, so
		// every bad value in the file is reported in one pass.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: bad duration %q: want a number and a unit (ms, s, m, h, d, w, y) such as 30s or 7d", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML prints the duration in Prometheus style.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
