package queue

import (
	"strconv"
	"strings"
)

// dialect holds what differs between the SQL engines the queue can use. All
// queries are written once, with "?" placeholders, and pass through rebind.
type dialect struct {
	name string
	// idColumn is the column definition of an auto-assigned integer key.
	idColumn string
	// int64Type is the type of a 64-bit integer column.
	int64Type string
	// numbered is true when placeholders are $1, $2, … (PostgreSQL).
	numbered bool
}

// sqliteDialect is the embedded default.
func sqliteDialect() dialect {
	return dialect{name: "sqlite", idColumn: "INTEGER PRIMARY KEY", int64Type: "INTEGER"}
}

// postgresDialect is kept here so the schema and queries stay portable; no
// PostgreSQL driver is linked yet.
func postgresDialect() dialect {
	return dialect{name: "postgres", idColumn: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", int64Type: "BIGINT", numbered: true}
}

// rebind rewrites the "?" placeholders of query for the dialect. Queries
// contain no string literals with question marks, so a plain scan suffices.
func (d dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ddl expands the {{id}} and {{int64}} markers of a schema statement.
func (d dialect) ddl(stmt string) string {
	return strings.NewReplacer("{{id}}", d.idColumn, "{{int64}}", d.int64Type).Replace(stmt)
}
