// hqp_core: tensor views (non-owning, re-bindable without allocation), the one atomic file write
// (content replaced whole or not at all, no temporary file left behind on any failure), and the
// resident-memory reading.
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <csignal>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/temp_dir.h"
#include "core/file_io.h"
#include "core/process_memory.h"
#include "core/tensor.h"

namespace hqp::test {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(TensorView, SeesAndWritesTheCallersMemory) {
  std::vector<float> buffer = {1, 2, 3, 4, 5, 6};
  Tensor v = Tensor::view(DType::kF32, {2, 3}, buffer.data());
  EXPECT_EQ(v.numel(), 6);
  EXPECT_EQ(v.data<float>(), buffer.data());
  v.data<float>()[4] = 50.0f;
  EXPECT_EQ(buffer[4], 50.0f);
  Tensor copy = v;  // copies of a view are views of the same memory
  EXPECT_EQ(copy.data<float>(), buffer.data());
}

TEST(TensorView, RebindPointsAtOtherMemoryOfTheSameShape) {
  std::vector<int32_t> a = {1, 2, 3}, b = {7, 8, 9};
  Tensor v = Tensor::view(DType::kS32, {3}, a.data());
  v.rebind_view(b.data());
  EXPECT_EQ(v.data<int32_t>()[1], 8);
  EXPECT_EQ(v.shape(), (Shape{3}));
  Tensor unbound = Tensor::view(DType::kS32, {3}, nullptr);  // bound later, as runtimes do
  unbound.rebind_view(a.data());
  EXPECT_EQ(unbound.data<int32_t>()[2], 3);
}

TEST(TensorViewDeathTest, RebindOfAnOwningTensorIsAProgrammerError) {
  Tensor owning = Tensor::zeros(DType::kF32, {2}).value();
  float other[2] = {0, 0};
  EXPECT_DEATH(owning.rebind_view(other), "rebind_view on a tensor that owns its memory");
}

TEST(AtomicWrite, ReplacesTheFileWholeAndLeavesNothingElse) {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  ASSERT_TRUE(write_file_atomic(path, "first version", "cannot write test file").ok());
  ASSERT_TRUE(write_file_atomic(path, "second", "cannot write test file").ok());
  EXPECT_EQ(read_all(path), "second");
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"out.bin"}));
}

TEST(AtomicWrite, FailureNamesThePathAndKeepsTheOldFile) {
  TempDir dir;
  const std::string path = dir.file("missing_dir/out.bin");
  const Status st = write_file_atomic(path, "x", "cannot write test file");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("cannot write test file"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("missing_dir/out.bin.tmp."), std::string::npos) << st.message();
}

TEST(AtomicWriteWith, WriterGetsATemporaryPathThatBecomesTheFile) {
  TempDir dir;
  const std::string path = dir.file("state.pt");
  std::string seen;
  const Status st = write_file_atomic_with(
      path,
      [&](const std::string& temp) -> Status {
        seen = temp;
        std::ofstream(temp, std::ios::binary) << "archive bytes";
        return Status();
      },
      "cannot write checkpoint");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_NE(seen, path);
  EXPECT_EQ(read_all(path), "archive bytes");
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"state.pt"}));
}

TEST(AtomicWriteWith, FailingOrThrowingWritersLeaveTheOldFileAndNoTemporary) {
  TempDir dir;
  const std::string path = dir.file("state.pt");
  ASSERT_TRUE(write_file_atomic(path, "old", "setup").ok());
  const Status failed = write_file_atomic_with(
      path,
      [](const std::string& temp) -> Status {
        std::ofstream(temp, std::ios::binary) << "partial";
        return Status(StatusCode::kIoError, "disk full");
      },
      "cannot write checkpoint");
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("disk full"), std::string::npos) << failed.message();
  const Status thrown = write_file_atomic_with(
      path,
      [](const std::string& temp) -> Status {
        std::ofstream(temp, std::ios::binary) << "partial";
        throw std::runtime_error("serializer exploded");
      },
      "cannot write checkpoint");
  EXPECT_FALSE(thrown.ok());
  EXPECT_NE(thrown.message().find("serializer exploded"), std::string::npos) << thrown.message();
  EXPECT_EQ(read_all(path), "old");
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"state.pt"}));
}

// Ctrl-C or kill during a write: the temporary file goes with the process, the old file stays, and
// the process still ends by that signal (issue 9: killed writers left OUT.tmp.<pid>.<n> behind).
TEST(AtomicWriteWith, FatalSignalMidWriteLeavesNoTemporary) {
  for (int sig : {SIGINT, SIGTERM}) {
    TempDir dir;
    const std::string path = dir.file("model.onnx");
    ASSERT_TRUE(write_file_atomic(path, "old", "setup").ok());
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      (void)write_file_atomic_with(
          path,
          [sig](const std::string& temp) -> Status {
            std::ofstream(temp, std::ios::binary) << std::string(1 << 20, 'x');
            ::raise(sig);
            return Status();
          },
          "cannot write model");
      ::_exit(0);  // not reached: the signal ends the child
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status)) << "signal " << sig;
    if (WIFSIGNALED(status)) EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_EQ(dir.list(), (std::vector<std::string>{"model.onnx"})) << "signal " << sig;
    EXPECT_EQ(read_all(path), "old");
  }
}

TEST(ProcessMemory, ResidentMemoryGrowsWithTouchedMemory) {
  const ResidentMemory before = resident_memory();
  ASSERT_GT(before.anonymous, 0);
  ASSERT_GT(before.file, 0);
  constexpr size_t kBytes = 64 << 20;
  std::vector<char> block(kBytes, 1);  // touched: resident
  const ResidentMemory during = resident_memory();
  EXPECT_GE(during.anonymous - before.anonymous, static_cast<int64_t>(kBytes) * 9 / 10);
  EXPECT_EQ(during.total(), during.anonymous + during.file);
  block = std::vector<char>();
  release_free_memory();
}

}  // namespace
}  // namespace hqp::test
