// Package elfsym reads the symbol side of an ELF shared object: its symbol
// tables (.dynsym, .symtab) with their GNU versions, held compactly, and the
// names readelf gives to symbol types, bindings and visibilities.
//
// It is the first stage of elfdiff's pipeline and imports no other stage.
package elfsym
