package backup

import (
	"slices"
	"testing"
)

const sampleDump = "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n" +
	"/*!40101 SET NAMES utf8mb4 */;\n" +
	"DROP TABLE IF EXISTS `post`;\n" +
	"CREATE TABLE `post` (\n  `id` int(11) NOT NULL,\n  `body` text\n) ENGINE=InnoDB;\n" +
	"INSERT INTO `post` VALUES (1,'a (paren'),(2,'it\\'s ); INSERT INTO `x` VALUES (9)'),(3,'back\\\\'),(4,NULL),(5,'two '' quotes (');\n" +
	"INSERT INTO `post` VALUES (6,0x28290A);\n" +
	"INSERT INTO `post` VALUES\n(7,'mariadb 10.11\\nwrites'),\n(8,'one tuple a line');\n" +
	"CREATE TABLE `we``ird VALUES ` (\n  `a` int\n);\n" +
	"INSERT INTO `we``ird VALUES ` (`a`, ` VALUES (`) VALUES (1,'x'),(2,'y');\n" +
	"CREATE TABLE `empty` (\n  `a` int\n);\n" +
	"/*!50001 CREATE VIEW `v` AS SELECT 1 AS `a` */;\n" +
	"-- Dump completed on 2026-12-01 14:00:00\n"

// TestSQLCounter counts a dump's tables and rows through the quoting the
// dump tools write, whatever the write boundaries.
func TestSQLCounter(t *testing.T) {
	want := []Table{{Name: "empty", Rows: 0}, {Name: "post", Rows: 8}, {Name: "we`ird VALUES ", Rows: 2}}
	for _, chunk := range []int{1, 2, 3, 7, 64, len(sampleDump)} {
		var c sqlCounter
		for i := 0; i < len(sampleDump); i += chunk {
			c.Write([]byte(sampleDump[i:min(i+chunk, len(sampleDump))]))
		}
		if got := c.Tables(); !slices.Equal(got, want) {
			t.Errorf("chunks of %d: tables = %v; want %v", chunk, got, want)
		}
		if !c.completed {
			t.Errorf("chunks of %d: the completion line was missed", chunk)
		}
	}
}

func TestSQLCounter_truncated(t *testing.T) {
	var c sqlCounter
	c.Write([]byte(sampleDump[:len(sampleDump)/2]))
	if c.completed {
		t.Fatal("a dump cut in half reads as completed")
	}
}

func TestCompareTables(t *testing.T) {
	want := []Table{{Name: "a", Rows: 1}, {Name: "b", Rows: 2}, {Name: "c", Rows: 0}}
	for name, tc := range map[string]struct {
		got  []Table
		diff string
	}{
		"same":      {[]Table{{Name: "c", Rows: 0}, {Name: "a", Rows: 1}, {Name: "b", Rows: 2}}, ""},
		"rows":      {[]Table{{Name: "a", Rows: 1}, {Name: "b", Rows: 1}, {Name: "c", Rows: 0}}, "table b has 1 rows, 2 recorded"},
		"missing":   {[]Table{{Name: "a", Rows: 1}, {Name: "b", Rows: 2}}, "table c is missing (0 rows recorded)"},
		"extra":     {[]Table{{Name: "a", Rows: 1}, {Name: "b", Rows: 2}, {Name: "c", Rows: 0}, {Name: "d", Rows: 4}}, "table d (4 rows) was not recorded"},
		"two diffs": {[]Table{{Name: "a", Rows: 0}, {Name: "b", Rows: 2}}, "table a has 0 rows, 1 recorded; table c is missing (0 rows recorded)"},
	} {
		t.Run(name, func(t *testing.T) {
			if d := compareTables(want, tc.got); d != tc.diff {
				t.Fatalf("diff = %q; want %q", d, tc.diff)
			}
		})
	}
}
