package demo

import (
	"encoding/base64"
	"io"
	"strings"
)

// base64Reader decodes a base64 body whose lines are wrapped.
func base64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, stripNewlines{r})
}

type stripNewlines struct{ r io.Reader }

func (s stripNewlines) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		if n == 0 {
			return 0, err
		}
		clean := strings.NewReplacer("\r", "", "\n", "").Replace(string(p[:n]))
		if clean == "" && err == nil {
			continue
		}
		copy(p, clean)
		return len(clean), err
	}
}
