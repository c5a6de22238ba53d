package probes

import (
	"fmt"
	"maps"
	"slices"

	"github.com/probed/probed/config"
)

// kinds is the one registry of probe kinds: config validation, the scheduler
// and the docs all read it. Adding a kind is adding a line here.
var kinds = map[string]Builder{
	"acme": newACME,
	"crl":  newCRL,
	"http": newHTTP,
	"ocsp": newOCSP,
	"tsa":  newTSA,
}

// Kinds lists the known kinds, sorted.
func Kinds() []string {
	return slices.Sorted(maps.Keys(kinds))
}

// Build makes the prober for one probe.
func Build(p *config.Probe, env Env) (Prober, error) {
	b, ok := kinds[p.Kind]
	if !ok {
		return nil, fmt.Errorf("build probe %s: unknown kind %q", p.Name, p.Kind)
	}
	pr, err := b(p, env)
	if err != nil {
		return nil, fmt.Errorf("build probe %s: %w", p.Name, err)
	}
	return pr, nil
}
