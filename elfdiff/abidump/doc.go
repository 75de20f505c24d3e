// Package abidump writes a Corpus as an ABI dump — a versioned JSON
// document holding everything elfdiff.Diff compares: the exported symbols
// with their versions, the library's facts, the C++ tables, and the
// declarations and types read from DWARF, the types in a table where each
// is written once — and reads a dump back into a Corpus that compares as
// the library it was written from. docs/abi-dump.md describes the format
// for users; it is public API: every version this package ever wrote
// stays readable.
package abidump
