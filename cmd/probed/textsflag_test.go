package main

import (
	"flag"
	"io"
	"testing"

	"github.com/probed/probed/status"
)

// -title-in and -message-in take a text in any language, repeated, so a
// language added by a catalogue file needs no new CLI flag; a value that is
// not LANG=TEXT is refused with the form it wants.
func TestTextsFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	titles := textsFlag(fs, "title", "title")
	if err := fs.Parse([]string{"-title-in", "fr=Réponses OCSP périmées", "-title-in", "de=OCSP-Antworten veraltet"}); err != nil {
		t.Fatal(err)
	}
	want := status.Text{"fr": "Réponses OCSP périmées", "de": "OCSP-Antworten veraltet"}
	if len(titles) != len(want) || titles["fr"] != want["fr"] || titles["de"] != want["de"] {
		t.Fatalf("titles = %v, want %v", titles, want)
	}
	for _, bad := range []string{"fr", "=text", "fr=", " =x"} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		textsFlag(fs, "title", "title")
		err := fs.Parse([]string{"-title-in", bad})
		if err == nil || err.Error() != `invalid value "`+bad+`" for flag -title-in: want LANG=TEXT, e.g. fr=…` {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
