// core/text: the one sanitizer of outside text (issue 9): one line, no terminal escapes, valid UTF-8.
#include "core/text.h"

#include <string>

#include <gtest/gtest.h>

namespace hqp {
namespace {

TEST(Printable, KeepsValidUtf8AndEscapesControls) {
  EXPECT_EQ(printable("model.onnx"), "model.onnx");
  EXPECT_EQ(printable("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(printable("a\nb\r\tc"), "a\\nb\\r\\tc");
  EXPECT_EQ(printable("\x1b[31mred\x1b[0m"), "\\x1B[31mred\\x1B[0m");
  EXPECT_EQ(printable(std::string("nul\0end", 7)), "nul\\x00end");
  EXPECT_EQ(printable("del\x7f"), "del\\x7F");
  EXPECT_EQ(printable("csi\xC2\x9B" "2J"), "csi\\xC2\\x9B2J") << "C1 control (8-bit CSI)";
  EXPECT_EQ(printable("back\\slash"), "back\\slash");
}

TEST(Printable, EscapesEveryByteOfInvalidUtf8) {
  EXPECT_EQ(printable("node\xFF"), "node\\xFF");
  EXPECT_EQ(printable("\xC0\xAF"), "\\xC0\\xAF") << "overlong '/'";
  EXPECT_EQ(printable("\xED\xA0\x80"), "\\xED\\xA0\\x80") << "surrogate U+D800";
  EXPECT_EQ(printable("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80") << "above U+10FFFF";
  EXPECT_EQ(printable("cut\xE2\x82"), "cut\\xE2\\x82") << "truncated sequence";
  EXPECT_EQ(printable("\x80x"), "\\x80x") << "lone continuation byte";
  for (int b = 0; b < 256; ++b) {
    const std::string out = printable(std::string(1, static_cast<char>(b)) + "z");
    EXPECT_TRUE(is_valid_utf8(out)) << b;
    EXPECT_EQ(out.find('\n'), std::string::npos) << b;
  }
}

TEST(TerminalText, KeepsLineBreaksEscapesTheRest) {
  EXPECT_EQ(terminal_text("a\nb\tc"), "a\nb\\tc");
  EXPECT_EQ(terminal_text("row \x1b[2J\n\xc2\x9b\xff"), "row \\x1B[2J\n\\xC2\\x9B\\xFF");
  EXPECT_EQ(terminal_text("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9\xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));
}

}  // namespace
}  // namespace hqp
