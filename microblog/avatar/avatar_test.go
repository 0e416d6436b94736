package avatar

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestHash_gravatar(t *testing.T) {
	// The example from Gravatar's documentation.
	const want = "0bc83cb571cd1c50ba6f3e8a78ef1346"
	if got := Hash("  MyEmailAddress@example.com "); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
}

func TestSVG(t *testing.T) {
	a := SVG("alice@example.com", `alice "<b>"`, 64)
	if a != SVG("ALICE@example.com", `alice "<b>"`, 64) {
		t.Error("same address in other case gave another identicon")
	}
	if a == SVG("bob@example.com", `alice "<b>"`, 64) {
		t.Error("two addresses gave the same identicon")
	}
	if strings.Contains(a, "<b>") {
		t.Error("label not escaped")
	}
	if !strings.Contains(a, `width="64"`) {
		t.Error("size not applied")
	}
	// Well-formed XML, and mirrored: every cell in column x has a twin in 4-x.
	d := xml.NewDecoder(strings.NewReader(a))
	cells := map[[2]string]bool{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, a)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			var x, y string
			for _, at := range se.Attr {
				switch at.Name.Local {
				case "x":
					x = at.Value
				case "y":
					y = at.Value
				}
			}
			if x != "" {
				cells[[2]string{x, y}] = true
			}
		}
	}
	if len(cells) == 0 {
		t.Fatal("no cells drawn")
	}
	mirror := map[string]string{"0": "4", "1": "3", "2": "2", "3": "1", "4": "0"}
	for c := range cells {
		if !cells[[2]string{mirror[c[0]], c[1]}] {
			t.Errorf("cell %v has no mirror", c)
		}
	}
}
