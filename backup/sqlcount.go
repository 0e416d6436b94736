package backup

import (
	"bytes"
	"sort"
)

// sqlCounter reads a mysqldump or mariadb-dump stream as it is written and
// counts what it holds: the tables it creates (CREATE TABLE `t` at a
// line's start) and the rows of each (the tuples of its INSERT INTO `t`
// ... VALUES (...),(...); statements), and whether the tool's closing "-- Dump completed" line
// arrived. It understands the tools' quoting: backticked names with
// doubled backticks, single-quoted strings with backslash escapes.
// Its zero value is ready; it never fails.
type sqlCounter struct {
	st        int
	head      []byte // the current line's first bytes, in stLineStart
	name      []byte // the table being named
	table     string // the table whose INSERT is being read
	kw        int    // how much of " VALUES" matched
	depth     int
	tables    map[string]int64
	completed bool
}

const (
	stLineStart = iota
	stSkipLine
	stName    // in a backticked name after CREATE TABLE or INSERT INTO
	stNameEnd // a backtick closed the name, or doubled one inside it
	stPreValues
	stPreValuesQuoted
	stTuples
	stString
	stStringEscape
)

var (
	createPrefix    = []byte("CREATE TABLE `")
	insertPrefix    = []byte("INSERT INTO `")
	completedPrefix = []byte("-- Dump completed")
	// Then whitespace: MariaDB 10.11 breaks the line after VALUES and
	// after each tuple, MySQL writes them on one line.
	valuesKeyword = []byte(" VALUES")
)

const maxHead = 17 // the longest prefix above

func (c *sqlCounter) Write(p []byte) (int, error) {
	if c.tables == nil {
		c.tables = map[string]int64{}
	}
	insert := false
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch c.st {
		case stLineStart:
			if b == '\n' {
				c.head = c.head[:0]
				continue
			}
			c.head = append(c.head, b)
			switch {
			case bytes.Equal(c.head, createPrefix):
				c.st, c.name, insert = stName, c.name[:0], false
			case bytes.Equal(c.head, insertPrefix):
				c.st, c.name, insert = stName, c.name[:0], true
			case bytes.Equal(c.head, completedPrefix):
				c.completed = true
				c.st = stSkipLine
			case len(c.head) >= maxHead || !c.mayMatch():
				c.st = stSkipLine
			}
			if c.st == stName {
				c.kw = 0
				if insert {
					c.depth = -1 // marks an INSERT until the name ends
				} else {
					c.depth = 0
				}
			}
		case stSkipLine:
			// Most of a dump is INSERT lines, handled below; the rest is
			// short. Jump to the line's end.
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				return len(p), nil
			}
			i += j
			c.head, c.st = c.head[:0], stLineStart
		case stName:
			if b == '`' {
				c.st = stNameEnd
				continue
			}
			c.name = append(c.name, b)
		case stNameEnd:
			if b == '`' { // a doubled backtick is one in the name
				c.name = append(c.name, b)
				c.st = stName
				continue
			}
			name := string(c.name)
			if c.depth == -1 {
				c.table = name
				c.tables[name] += 0
				c.st, c.kw, c.depth = stPreValues, 0, 0
				i-- // this byte may begin " VALUES "
				continue
			}
			c.tables[name] += 0
			c.st = stSkipLine
			i--
		case stPreValues:
			switch {
			case b == '`':
				c.st, c.kw = stPreValuesQuoted, 0
			case b == valuesKeyword[c.kw]:
				c.kw++
				if c.kw == len(valuesKeyword) {
					c.st = stTuples
				}
			case b == valuesKeyword[0]:
				c.kw = 1
			default:
				c.kw = 0
			}
		case stPreValuesQuoted:
			if b == '`' {
				c.st = stPreValues
			}
		case stTuples:
			// Jump to the next byte that matters.
			j := bytes.IndexAny(p[i:], "'()`;")
			if j < 0 {
				return len(p), nil
			}
			i += j
			switch p[i] {
			case '\'':
				c.st = stString
			case '(':
				if c.depth == 0 {
					c.tables[c.table]++
				}
				c.depth++
			case ')':
				c.depth--
			case ';':
				if c.depth == 0 {
					c.st = stSkipLine
				}
			}
		case stString:
			j := bytes.IndexAny(p[i:], `'\`)
			if j < 0 {
				return len(p), nil
			}
			i += j
			if p[i] == '\\' {
				c.st = stStringEscape
			} else {
				// A doubled quote reads as closing and reopening: the
				// count is the same.
				c.st = stTuples
			}
		case stStringEscape:
			c.st = stString
		}
	}
	return len(p), nil
}

// mayMatch reports whether the line's head can still become one of the
// prefixes sqlCounter looks for.
func (c *sqlCounter) mayMatch() bool {
	for _, p := range [][]byte{createPrefix, insertPrefix, completedPrefix} {
		if len(c.head) <= len(p) && bytes.Equal(p[:len(c.head)], c.head) {
			return true
		}
	}
	return false
}

// Tables lists the tables counted, by name.
func (c *sqlCounter) Tables() []Table {
	out := make([]Table, 0, len(c.tables))
	for n, rows := range c.tables {
		out = append(out, Table{Name: n, Rows: rows})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
