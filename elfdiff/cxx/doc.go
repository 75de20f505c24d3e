// Package cxx reads what C++ adds to a library's binary interface: the
// identity of a mangled symbol (Itanium C++ ABI names, parsed with the
// demangler), and the virtual tables and typeinfo objects read from the
// library's data and dynamic relocations. It compares nothing.
package cxx
