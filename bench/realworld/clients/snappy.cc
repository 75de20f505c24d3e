// Ground truth for snappy: the std::string, raw, iovec-free and C APIs,
// and the Source/Sink interfaces with a Sink the client implements (the
// library calls into the client's vtable).
#include <cstdio>
#include <cstring>
#include <string>
#include <snappy.h>
#include <snappy-c.h>
#include <snappy-sinksource.h>

#define FAIL(...) do { std::printf("BREAK " __VA_ARGS__); std::printf("\n"); return 1; } while (0)

namespace {
// CountingSink appends to a string and counts the calls it gets.
class CountingSink : public snappy::Sink {
 public:
  explicit CountingSink(std::string* out) : out_(out) {}
  void Append(const char* bytes, size_t n) override { out_->append(bytes, n); calls++; }
  int calls = 0;
 private:
  std::string* out_;
};
}  // namespace

int main() {
  std::string in;
  for (int i = 0; i < 100000; i++) in.push_back("snappy sample "[i % 14] + i / 10000);
  std::string comp, back;
  size_t n = snappy::Compress(in.data(), in.size(), &comp);
  if (n != comp.size() || n >= in.size()) FAIL("snappy::Compress: %zu", n);
  size_t len = 0;
  if (!snappy::GetUncompressedLength(comp.data(), comp.size(), &len) || len != in.size()) FAIL("snappy::GetUncompressedLength");
  if (!snappy::IsValidCompressedBuffer(comp.data(), comp.size())) FAIL("snappy::IsValidCompressedBuffer");
  if (!snappy::Uncompress(comp.data(), comp.size(), &back) || back != in) FAIL("snappy::Uncompress");

  std::string raw(snappy::MaxCompressedLength(in.size()), '\0');
  size_t rawn = 0;
  snappy::RawCompress(in.data(), in.size(), &raw[0], &rawn);
  std::string rawback(in.size(), '\0');
  if (!snappy::RawUncompress(raw.data(), rawn, &rawback[0]) || rawback != in) FAIL("snappy::RawUncompress");

  snappy::ByteArraySource src(in.data(), in.size());
  std::string viasink;
  CountingSink sink(&viasink);
  size_t sn = snappy::Compress(&src, &sink);
  if (sn != viasink.size() || sink.calls == 0) FAIL("snappy::Compress(Source*, Sink*): %zu bytes, %d calls", sn, sink.calls);
  std::string out2(in.size(), '\0');
  snappy::ByteArraySource src2(viasink.data(), viasink.size());
  snappy::UncheckedByteArraySink sink2(&out2[0]);
  if (!snappy::Uncompress(&src2, &sink2) || out2 != in) FAIL("snappy::Uncompress(Source*, Sink*)");

  size_t cl = snappy_max_compressed_length(in.size());
  std::string cbuf(cl, '\0');
  if (snappy_compress(in.data(), in.size(), &cbuf[0], &cl) != SNAPPY_OK) FAIL("snappy_compress");
  size_t ul = 0;
  if (snappy_uncompressed_length(cbuf.data(), cl, &ul) != SNAPPY_OK || ul != in.size()) FAIL("snappy_uncompressed_length");
  std::string ubuf(ul, '\0');
  if (snappy_uncompress(cbuf.data(), cl, &ubuf[0], &ul) != SNAPPY_OK || ubuf != in) FAIL("snappy_uncompress");
  if (snappy_validate_compressed_buffer("\xff\xff\xff", 3) == SNAPPY_OK) FAIL("snappy_validate_compressed_buffer");
  std::printf("ok\n");
  return 0;
}
