// ThreadAdapter — chooses, run by run, between a plan on the session's N threads ("wide") and the
// same plan on N - 1 threads ("narrow"; one thread on two cores), from the latencies of the
// caller's own runs.
//
// Why: oneDNN (OpenMP build) splits every primitive statically across N threads and joins them at
// its end. When another process takes one of the cores, the thread that shares it gets a fraction
// of its time slices and every primitive waits for it: the N-thread plan becomes slower than a
// plan on fewer threads, which the scheduler keeps on free cores (EfficientNet-B0, two cores, one
// busy: 2 threads 2.1-3.1x slower than quiet; 1 thread on the free core ~1.4x; docs/PERFORMANCE.md).
// A work-stealing pool would balance within a primitive; the Debian oneDNN cannot take one (its
// threading runtime is fixed at its build), so the session balances between plans instead.
//
// Contract (pure policy: no clock, no threads; the session feeds it each run's wall time and the
// process CPU time it used):
// - It starts on wide. Contention is suspected when, over the last kWindow wide runs, either the
//   median latency exceeds kSlowdown x the quiet baseline (the lowest such median seen), or the
//   median CPU utilization (process CPU time / (wall time x threads)) is below kUtilization: a
//   thread that holds its core spins at OpenMP's barriers, so the CPU time falls short only when a
//   thread is waiting for a core (this catches contention present from the first run, when no
//   quiet baseline exists).
// - Suspected, it asks for kWindow narrow runs and keeps narrow when their median beats wide's
//   recent median by kMargin. Otherwise it returns to wide, takes wide's current latency as the
//   new baseline (the machine changed, not the load), and ignores low utilization for a back-off
//   of wide runs that doubles after each such failed trial (kFirstBackoff .. kMaxBackoff), so a
//   plan whose threads idle for another reason (a long single-threaded step) costs almost nothing.
// - On narrow, every kRecheckEvery runs it asks for one wide probe; a probe within kSlowdown of the
//   quiet baseline with its threads busy (utilization at least kUtilization), or faster than
//   narrow's recent median, returns it to wide.
// On a quiet machine whose threads stay busy it never asks for a narrow run.
// Results of the two plans are equal for INT8 (bit for bit) and within float reassociation for FP32
// (as between any two thread counts).
#pragma once

#include <array>
#include <cstdint>

namespace hqp::runtime {

class ThreadAdapter {
 public:
  enum class Choice { kWide, kNarrow };

  static constexpr int kWindow = 5;             // runs per median
  static constexpr double kSlowdown = 1.3;      // wide median over baseline that suspects contention
  static constexpr double kMargin = 0.9;        // narrow must be this much faster than wide to win
  static constexpr int kRecheckEvery = 25;      // narrow runs between two wide probes
  static constexpr double kUtilization = 0.8;   // median CPU utilization of wide that suspects contention
  static constexpr int kFirstBackoff = 20;      // wide runs without utilization trials after a failed one
  static constexpr int kMaxBackoff = 2560;

  // threads: the wide plan's thread count (> 1).
  explicit ThreadAdapter(int threads = 2) : threads_(threads) {}

  // Which plan the next run should use.
  Choice next() const;
  // A run made on `choice` (the one next() returned): its wall time and the CPU time the process
  // used meanwhile (ms; cpu_ms < 0: unknown, only latency is used).
  void record(Choice choice, double ms, double cpu_ms = -1.0);

  // Puts it on narrow as if contention had been measured (tests of the session's plan switch).
  void force_narrow();

  double wide_baseline_ms() const { return baseline_; }  // 0 until kWindow wide runs
  int64_t switches() const { return switches_; }         // wide <-> narrow decisions so far

 private:
  enum class State { kWide, kProbingNarrow, kNarrow };
  // The last kWindow values (a ring; no allocation on the run path).
  class Window {
   public:
    void push(double v);
    void clear() { size_ = next_ = 0; }  // then values fill [0, size_) until full
    bool full() const { return size_ == kWindow; }
    int size() const { return size_; }
    double median() const;  // 0 when empty
   private:
    std::array<double, kWindow> v_{};
    int size_ = 0;
    int next_ = 0;
  };

  State state_ = State::kWide;
  Window wide_;    // wide latencies
  Window narrow_;  // narrow latencies
  Window util_;    // wide CPU utilizations (when known)
  int threads_ = 2;
  int backoff_ = kFirstBackoff;
  int util_ignored_ = 0;       // wide runs left whose utilization is not a trigger
  double baseline_ = 0.0;
  int since_probe_ = 0;        // narrow runs since the last wide probe
  bool probe_due_ = false;
  int64_t switches_ = 0;
};

}  // namespace hqp::runtime
