package statuspage

import (
	"github.com/probed/probed/status"
	"slices"
	"time"
)

// computeUptime fills every component's days. For a leaf, a day's watched
// time is its coverage minus maintenance windows; its downtime comes from the
// public status log (what operators published), never from raw probe results.
func (s *Snapshot) computeUptime(in Input, log []StatusChange, first time.Time) {
	now := s.Now
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, s.Loc)
	s.Days = make([]time.Time, in.Days)
	for i := range in.Days {
		s.Days[i] = today.AddDate(0, 0, i-(in.Days-1))
	}
	window := Interval{s.Days[0], now}

	byComp := map[string][]StatusChange{}
	for _, e := range log {
		byComp[e.Component] = append(byComp[e.Component], e)
	}
	// Which incidents and maintenances touch each leaf.
	incOf := map[string][]*Incident{}
	maintOf := map[string][]*Incident{}
	for _, list := range [][]*Incident{s.Incidents, s.Maintenances} {
		for _, inc := range list {
			seen := map[string]bool{}
			for _, c := range inc.Components {
				for _, l := range leaves(c) {
					if seen[l.ID] {
						continue
					}
					seen[l.ID] = true
					if inc.Maintenance() {
						maintOf[l.ID] = append(maintOf[l.ID], inc)
					} else {
						incOf[l.ID] = append(incOf[l.ID], inc)
					}
				}
			}
		}
	}

	for _, c := range s.Flat {
		if c.Group {
			continue
		}
		var cover []Interval
		if in.Coverage != nil {
			cover = Normalize(in.Coverage[c.ID])
		} else if !first.IsZero() {
			cover = []Interval{{first, now}}
		}
		cover = Intersect(cover, []Interval{window})
		// Maintenance: the windows of the maintenances that ran, and any
		// time the log shows the component under maintenance.
		byStatus := statusIntervals(byComp[c.ID], now)
		maint := byStatus[status.UnderMaintenance]
		for _, mi := range maintOf[c.ID] {
			if mi.Upcoming() && !mi.ScheduledFor.Before(now) {
				continue
			}
			maint = append(maint, mi.Span(now))
		}
		maint = Intersect(Normalize(maint), []Interval{window})
		base := subtract(cover, maint)
		major := Intersect(byStatus[status.MajorOutage], base)
		partial := Intersect(byStatus[status.PartialOutage], base)
		degraded := Intersect(byStatus[status.DegradedPerformance], base)

		c.Uptime = make([]Day, len(s.Days))
		for i, ds := range s.Days {
			de := now
			if i+1 < len(s.Days) {
				de = s.Days[i+1]
			}
			day := []Interval{{ds, de}}
			dd := &c.Uptime[i]
			dd.Start = ds
			dd.Covered = total(Intersect(base, day))
			dd.Maintenance = total(Intersect(maint, day))
			dd.Major = total(Intersect(major, day))
			dd.Partial = total(Intersect(partial, day))
			dd.Degraded = total(Intersect(degraded, day))
			for _, inc := range incOf[c.ID] {
				if sp := inc.Span(now); sp.Start.Before(de) && sp.End.After(ds) {
					dd.Incidents = append(dd.Incidents, inc)
				}
			}
			for _, mi := range maintOf[c.ID] {
				if sp := mi.Span(now); sp.Start.Before(de) && sp.End.After(ds) && !sp.Start.After(now) {
					dd.Incidents = append(dd.Incidents, mi)
				}
			}
			c.Total.add(dd)
			if c.StartDate.IsZero() && !dd.NoData() {
				c.StartDate = ds
			}
		}
		if len(cover) > 0 && (c.CreatedAt.IsZero() || cover[0].Start.Before(c.CreatedAt)) {
			c.CreatedAt = cover[0].Start
		}
	}
	// Groups add their children's time up.
	var sum func(c *Component)
	sum = func(c *Component) {
		if !c.Group {
			return
		}
		c.Uptime = make([]Day, len(s.Days))
		for i := range c.Uptime {
			c.Uptime[i].Start = s.Days[i]
		}
		for _, ch := range c.Children {
			sum(ch)
			for i := range ch.Uptime {
				c.Uptime[i].add(&ch.Uptime[i])
				for _, inc := range ch.Uptime[i].Incidents {
					if !slices.Contains(c.Uptime[i].Incidents, inc) {
						c.Uptime[i].Incidents = append(c.Uptime[i].Incidents, inc)
					}
				}
			}
			c.Total.add(&ch.Total)
			if !ch.StartDate.IsZero() && (c.StartDate.IsZero() || ch.StartDate.Before(c.StartDate)) {
				c.StartDate = ch.StartDate
			}
		}
	}
	for _, c := range s.Components {
		sum(c)
	}
}

// statusIntervals turns a component's status changes into the spans each
// non-operational status held, up to now.
func statusIntervals(log []StatusChange, now time.Time) map[string][]Interval {
	out := map[string][]Interval{}
	for i, e := range log {
		end := now
		if i+1 < len(log) {
			end = log[i+1].At
		}
		if e.Status == status.Operational || !end.After(e.At) || e.At.After(now) {
			continue
		}
		if end.After(now) {
			end = now
		}
		out[e.Status] = append(out[e.Status], Interval{e.At, end})
	}
	for k, v := range out {
		out[k] = Normalize(v)
	}
	return out
}

// Normalize sorts intervals and merges overlaps, dropping empty ones.
func Normalize(in []Interval) []Interval {
	var list []Interval
	for _, iv := range in {
		if iv.End.After(iv.Start) {
			list = append(list, iv)
		}
	}
	slices.SortFunc(list, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var out []Interval
	for _, iv := range list {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Intersect is the overlap of two normalized lists.
func Intersect(a, b []Interval) []Interval {
	var out []Interval
	for i, j := 0, 0; i < len(a) && j < len(b); {
		s := a[i].Start
		if b[j].Start.After(s) {
			s = b[j].Start
		}
		e := a[i].End
		if b[j].End.Before(e) {
			e = b[j].End
		}
		if e.After(s) {
			out = append(out, Interval{s, e})
		}
		if a[i].End.Before(b[j].End) {
			i++
		} else {
			j++
		}
	}
	return out
}

// subtract b from a, both normalized.
func subtract(a, b []Interval) []Interval {
	var out []Interval
	j := 0
	for _, iv := range a {
		cur := iv
		for j < len(b) && !b[j].End.After(cur.Start) {
			j++
		}
		k := j
		for k < len(b) && b[k].Start.Before(cur.End) {
			if b[k].Start.After(cur.Start) {
				out = append(out, Interval{cur.Start, b[k].Start})
			}
			if b[k].End.After(cur.Start) {
				cur.Start = b[k].End
			}
			k++
		}
		if cur.End.After(cur.Start) {
			out = append(out, cur)
		}
	}
	return out
}

func total(list []Interval) time.Duration {
	var t time.Duration
	for _, iv := range list {
		t += iv.End.Sub(iv.Start)
	}
	return t
}
