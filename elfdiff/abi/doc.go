// Package abi builds the binary-interface model of a library from its
// DWARF: the declarations of its exported functions and variables and
// every type they reach (C and C++ types, classes with their bases,
// methods and virtual slots), how x86-64 passes each type (System V
// classification), and whether a type is the library's own (internal) or
// public. It decodes DWARF through package dwarfdec and knows nothing of
// comparing two versions.
package abi
