// Ground truth for double-conversion: shortest, fixed, exponential and
// precision formatting with DoubleToStringConverter instances the client
// constructs (inline constructors: the object layout is the client's), the
// EcmaScript singleton, and StringToDoubleConverter parsing.
#include <cstdio>
#include <cstring>
#include <double-conversion/double-conversion.h>

#define FAIL(...) do { std::printf("BREAK " __VA_ARGS__); std::printf("\n"); return 1; } while (0)
using namespace double_conversion;

int main() {
  char buf[128];
  StringBuilder sb(buf, sizeof buf);
  const DoubleToStringConverter& ecma = DoubleToStringConverter::EcmaScriptConverter();
  struct { double v; const char* want; } shortest[] = {{0.1, "0.1"}, {1e21, "1e+21"}, {-0.0, "0"}, {123456.789, "123456.789"}, {5e-324, "5e-324"}};
  for (auto& c : shortest) {
    sb.Reset();
    if (!ecma.ToShortest(c.v, &sb) || std::strcmp(sb.Finalize(), c.want)) FAIL("ToShortest(%.17g): %s", c.v, buf);
  }
  DoubleToStringConverter conv(DoubleToStringConverter::EMIT_POSITIVE_EXPONENT_SIGN | DoubleToStringConverter::UNIQUE_ZERO,
                               "inf", "nan", 'e', -6, 21, 6, 0);
  sb.Reset();
  if (!conv.ToFixed(3.14159, 3, &sb) || std::strcmp(sb.Finalize(), "3.142")) FAIL("ToFixed: %s", buf);
  sb.Reset();
  if (!conv.ToExponential(123456.0, 2, &sb) || std::strcmp(sb.Finalize(), "1.23e+5")) FAIL("ToExponential: %s", buf);
  sb.Reset();
  if (!conv.ToPrecision(0.000123456, 4, &sb) || std::strcmp(sb.Finalize(), "0.0001235")) FAIL("ToPrecision: %s", buf);
  sb.Reset();
  if (!conv.ToShortestSingle(0.1f, &sb) || std::strcmp(sb.Finalize(), "0.1")) FAIL("ToShortestSingle: %s", buf);
  sb.Reset();
  if (!conv.ToShortest(1.0 / 0.0, &sb) || std::strcmp(sb.Finalize(), "inf")) FAIL("ToShortest(inf): %s", buf);

  bool sign; int length, point;
  char digits[32];
  DoubleToStringConverter::DoubleToAscii(1.5e-7, DoubleToStringConverter::SHORTEST, 0, digits, sizeof digits, &sign, &length, &point);
  if (std::strcmp(digits, "15") || point != -6 || sign) FAIL("DoubleToAscii: %s %d", digits, point);

  StringToDoubleConverter parse(StringToDoubleConverter::ALLOW_LEADING_SPACES | StringToDoubleConverter::ALLOW_TRAILING_JUNK,
                                0.0, -1.0, "inf", "nan");
  int used = 0;
  double d = parse.StringToDouble("  2.5e3xyz", 10, &used);
  if (d != 2500.0 || used != 7) FAIL("StringToDouble: %g (%d)", d, used);
  float f = parse.StringToFloat("0.1", 3, &used);
  if (f != 0.1f) FAIL("StringToFloat: %g", f);
  if (parse.StringToDouble("inf", 3, &used) != 1.0 / 0.0) FAIL("StringToDouble(inf)");
  StringToDoubleConverter strict(StringToDoubleConverter::NO_FLAGS, 0.0, -1.0, nullptr, nullptr);
  if (strict.StringToDouble("1.5x", 4, &used) != -1.0) FAIL("StringToDoubleConverter::StringToDouble (junk value)");
  std::printf("ok\n");
  return 0;
}
