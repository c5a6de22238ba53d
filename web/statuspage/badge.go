package statuspage

import (
	"fmt"
	"github.com/probed/probed/status"
	"html"
)

// badgeColors are the status colours the page uses too.
var badgeColors = map[string]string{
	status.Operational:         "#2fcc66",
	status.DegradedPerformance: "#f1c40f",
	status.PartialOutage:       "#e67e22",
	status.MajorOutage:         "#e74c3c",
	status.UnderMaintenance:    "#3498db",
}

// textWidth estimates the width in pixels of s in 11px Verdana, the badge
// font: close enough that the text never overflows its box.
func textWidth(s string) int {
	w := 0.0
	for _, r := range s {
		switch {
		case r > 0x2e80: // CJK: full width
			w += 11
		case r == 'i' || r == 'l' || r == 'j' || r == '.' || r == ',' || r == ':' || r == '\'' || r == '|' || r == '!':
			w += 3.6
		case r == ' ' || r == 'f' || r == 't' || r == 'r' || r == '(' || r == ')' || r == '-':
			w += 4.6
		case r == 'm' || r == 'w' || r == 'M' || r == 'W':
			w += 10.2
		case r >= 'A' && r <= 'Z':
			w += 7.6
		default:
			w += 6.9
		}
	}
	return int(w + 0.5)
}

// renderBadge draws a shields-style badge: component name, then status.
func renderBadge(c *Component, l *Lang) *entry {
	left, right := c.Name, l.Status(c.Status)
	lw, rw := textWidth(left)+12, textWidth(right)+12
	color := badgeColors[c.Status]
	if color == "" {
		color = "#9f9f9f"
	}
	e, r := html.EscapeString(left), html.EscapeString(right)
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%[1]d" height="20" role="img" aria-label="%[4]s: %[5]s">`+
		`<title>%[4]s: %[5]s</title>`+
		`<linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`+
		`<clipPath id="r"><rect width="%[1]d" height="20" rx="3" fill="#fff"/></clipPath>`+
		`<g clip-path="url(#r)"><rect width="%[2]d" height="20" fill="#555"/><rect x="%[2]d" width="%[3]d" height="20" fill="%[6]s"/><rect width="%[1]d" height="20" fill="url(#s)"/></g>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%[7]d" y="15" fill="#010101" fill-opacity=".3">%[4]s</text><text x="%[7]d" y="14">%[4]s</text>`+
		`<text x="%[8]d" y="15" fill="#010101" fill-opacity=".3">%[5]s</text><text x="%[8]d" y="14">%[5]s</text></g></svg>`+"\n",
		lw+rw, lw, rw, e, r, color, lw/2, lw+rw/2)
	out := newEntry(200, "image/svg+xml", []byte(svg), c.UpdatedAt)
	out.cache = "public, max-age=60"
	return out
}
