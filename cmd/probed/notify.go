package main

import (
	"context"

	"github.com/probed/probed/notify"
)

// newNotify builds the subscription flow and the delivery worker. The
// worker runs with the daemon's context (Serve) and is woken whenever the
// incident engine changes something, so a published incident's mail goes
// out at once rather than at the next poll.
func (d *Daemon) newNotify(ctx context.Context) error {
	links, err := notify.NewLinksFromStore(ctx, d.store)
	if err != nil {
		return err
	}
	logger := d.logger.With("component", "notify")
	d.notify, err = notify.NewWorker(notify.WorkerOptions{Store: d.store, Config: d.Config, Links: links, Clock: d.clock, Logger: logger,
		Registerer: d.registry, TLSConfig: d.smtpTLS})
	if err != nil {
		return err
	}
	d.subs, err = notify.NewSubscriptions(ctx, notify.SubscriptionsOptions{Store: d.store, Config: d.Config, Clock: d.clock, Links: links,
		Registerer: d.registry, Wake: d.notify.Wake})
	if err != nil {
		return err
	}
	d.engine.OnChange(d.notify.Wake)
	// Operator webhooks (notify.operator_webhooks): drafts and resolve
	// proposals posted to the on-call operator's chat or pager.
	d.opHooks, err = notify.NewOperatorHooks(notify.OperatorOptions{Store: d.store, Config: d.Config, Clock: d.clock,
		Logger: d.logger.With("component", "operator_webhooks"), Registerer: d.registry})
	if err != nil {
		return err
	}
	d.engine.OnChange(d.opHooks.Wake)
	return nil
}
