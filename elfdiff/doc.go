// Package elfdiff reads ELF shared objects into a Corpus — the exported
// interface of a library as its clients see it — and compares two corpora
// into neutral Change values. It judges nothing: package rules says what a
// change means, package compat applies the rules.
//
// Reading goes through one package per stage, each importing only those
// before it: elfsym (symbol tables, versions, build-id), dwarfdec (DWARF
// decoding, knowing no ABI), abi (the model read from DWARF: declarations,
// types, x86-64 classification, internal types) and cxx (C++ names, vtables,
// typeinfo). This package composes them into a Corpus (Load) and holds the
// comparison (Diff, Change).
package elfdiff
