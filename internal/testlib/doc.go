// Package testlib builds the small C and C++ libraries the tests of
// elfdiff and its stages read.
package testlib
