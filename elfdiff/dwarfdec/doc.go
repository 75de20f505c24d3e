// Package dwarfdec decodes DWARF: it finds a library's debug information
// (its own sections, compressed or not, or a separate debug file found by
// build-id or .gnu_debuglink under debug roots, or fetched by build-id),
// and the supplementary file dwz -m shares between libraries; it reads the
// sections, .debug_info, DWARF 4 .debug_types and the supplementary file's
// units in one offset space, scans and decodes DIEs
// faster and with less memory than debug/dwarf, and reads the file names
// of line tables. It knows nothing of ABIs: the meaning of what it decodes
// belongs to the stages above it.
package dwarfdec
