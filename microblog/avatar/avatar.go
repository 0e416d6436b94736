// Package avatar draws identicons: a symmetric 5×5 pattern and a colour
// derived from a hash of the user's email, like Gravatar's "identicon"
// default. They are inline SVG, so pages render without the network.
package avatar

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"html"
	"strings"
)

// Hash is the Gravatar-style hash of an email address: the MD5 of the
// trimmed, lower-cased address, in hex. MD5 is what Gravatar specifies; it
// identifies, it does not protect.
func Hash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// SVG returns an identicon for email, size pixels wide, as a standalone
// <svg> element. label is its accessible name and is escaped.
func SVG(email, label string, size int) string {
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	hue := (int(sum[12])<<8 | int(sum[13])) % 360
	fg := fmt.Sprintf("hsl(%d,55%%,50%%)", hue)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="avatar" width="%d" height="%d" viewBox="0 0 5 5" shape-rendering="crispEdges" role="img" aria-label="%s">`,
		size, size, html.EscapeString(label))
	b.WriteString(`<rect width="5" height="5" fill="#f0f0f0"/>`)
	// 15 bits pick the cells of the left three columns; the right two
	// mirror the left two.
	for col := 0; col < 3; col++ {
		for row := 0; row < 5; row++ {
			bit := col*5 + row
			if sum[bit/8]>>(bit%8)&1 == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="1" height="1" fill="%s"/>`, col, row, fg)
			if col < 2 {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="1" height="1" fill="%s"/>`, 4-col, row, fg)
			}
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}
