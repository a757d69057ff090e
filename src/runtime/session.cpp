// Session: graph passes once, then one compiled Plan per distinct input-shape signature
// (kernel choice, layouts, prepacked weights, arena offsets), executed step by step.
#include "runtime/session.h"

#include <time.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <algorithm>
#include <map>
#include <new>
#include <unordered_map>

#include <fmt/format.h>

#include "core/process_memory.h"
#include "ir/model_stats.h"
#include "ir/shape_inference.h"
#include "ir/verifier.h"
#include "kernels/onednn/onednn_common.h"
#include "passes/pipeline.h"
#include "runtime/layout.h"
#include "runtime/memory_planner.h"
#include "reference/executor.h"
#include "reference/node_params.h"
#include "runtime/runtime_ops.h"
#include "runtime/thread_adapter.h"

namespace hqp {

namespace {

using runtime::Layout;
using runtime::SlotInfo;

struct AlignedFree {
  void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(runtime::kArenaAlignment)); }
};

struct Slot {
  enum class Kind { kArena, kConstant, kInput };
  SlotInfo info;
  Kind kind = Kind::kArena;
  int64_t bytes = 0;
  int64_t offset = 0;           // kArena
  const void* data = nullptr;   // kConstant
  int input_index = -1;         // kInput
  int first_step = -1;
  int last_step = -1;
};

struct Step {
  const ir::Node* node = nullptr;  // nullptr for an inserted layout reorder
  std::string name;
  std::string op;
  std::unique_ptr<runtime::RuntimeOp> kernel;
  std::vector<int> in;   // slot per input, -1 absent
  std::vector<int> out;  // slot per output, -1 absent
  int64_t macs = 0;
  double total_ms = 0.0;
  int64_t runs = 0;
};

// An initializer whose graph copy was released after every op reading it packed it: `step` of
// `plan` can write it back (RuntimeOp::unpack_input of node input `input`).
struct ReleasedWeight {
  const struct Plan* plan = nullptr;
  size_t step = 0;
  size_t input = 0;
  DType dtype = DType::kUndefined;
  Shape shape;
};

struct Plan {
  int threads = 1;  // oneDNN / OpenMP threads its primitives were created for and run with
  ir::Graph graph;  // specialized to concrete input shapes; steps point into it
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<int> outputs;
  runtime::ArenaPlan arena;
  std::unique_ptr<std::byte[], AlignedFree> arena_memory;
  std::vector<NodePlanInfo> info;
  int64_t weight_bytes = 0;   // packed bytes of every op + graph constants the plan still reads
  std::unordered_map<std::string, ReleasedWeight> packed;  // initializers only packed ops read
  bool ran = false;  // executed at least once (the first run pays first-touch costs: not timed)
  // SessionOptions::adapt_threads: the alternative of this plan on one thread fewer (compiled on first use)
  // and the policy choosing between them run by run.
  std::unique_ptr<Plan> narrow;
  bool narrow_failed = false;  // it could not be compiled or run: this plan stays on its threads
  runtime::ThreadAdapter adapter;
};

std::string shape_key(std::span<const Tensor> inputs) {
  std::string key;
  for (const Tensor& t : inputs) key += shape_to_string(t.shape()) + ";";
  return key;
}

int add_slot(Plan& plan, Slot s) {
  s.bytes = s.info.shape.empty() && s.info.dtype == DType::kUndefined
                ? 0
                : checked_nbytes(s.info.dtype, s.info.shape).value();
  plan.slots.push_back(std::move(s));
  return static_cast<int>(plan.slots.size()) - 1;
}

}  // namespace

struct Session::Impl {
  SessionOptions options;
  ir::Graph graph;
  std::string optimize_report;
  std::map<std::string, std::unique_ptr<Plan>> plans;
  Plan* last = nullptr;
  const std::vector<NodePlanInfo> empty_info;

  // Initializers of `graph` whose data was released (their packed copies live in plans).
  std::unordered_map<std::string, ReleasedWeight> released;

  Result<Plan*> plan_for(std::span<const Tensor> inputs);
  // Compiles one more plan (`make`) next to the existing ones: the released weights are written
  // back for its kernels to pack, then released again (each plan keeps its own packed copy). On
  // failure the earlier plans and `released` are as before.
  Result<std::unique_ptr<Plan>> compile_beside(const std::function<Result<std::unique_ptr<Plan>>()>& make);
  // adapt_threads: the plan to execute for this run (`plan` or its alternative on one thread fewer).
  Plan* choose(Plan& plan, std::span<const Tensor> inputs, runtime::ThreadAdapter::Choice& choice);
  Result<std::unique_ptr<Plan>> compile(std::span<const Tensor> inputs, int threads);
  // compile() with options.threads, then (tune_threads) the one-thread alternative if it is faster.
  Result<std::unique_ptr<Plan>> compile_tuned(std::span<const Tensor> inputs);
  // Runs every step of `plan` on `inputs` (outputs stay in the plan's slots).
  Status execute(Plan& plan, std::span<const Tensor> inputs, bool profile);
  Status restore_released();
  void release_packed(Plan& plan);
};

// Writes every released initializer back into `graph` from the op that packed it (a new plan's
// kernels need the plain data to pack their own copy).
Status Session::Impl::restore_released() {
  for (const auto& [name, r] : released) {
    ir::Value* v = graph.find_value(name);
    HQP_CHECK(v != nullptr && r.plan != nullptr);
    HQP_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(r.dtype, r.shape));
    HQP_RETURN_IF_ERROR(r.plan->steps[r.step].kernel->unpack_input(r.input, t)
                            .with_context(fmt::format("cannot restore weight '{}'", name)));
    v->data = std::move(t);
  }
  released.clear();
  return Status();
}

// Drops the graph copies (in the session's graph and the plan's) of the initializers that only
// packing ops read: after this the packed memory is the only copy of those weights.
void Session::Impl::release_packed(Plan& plan) {
  for (auto& [name, r] : plan.packed) {
    if (ir::Value* v = graph.find_value(name)) v->data = Tensor();
    if (ir::Value* v = plan.graph.find_value(name)) v->data = Tensor();
    released[name] = r;
  }
  if (!plan.packed.empty()) release_free_memory();
}

namespace {

// F32Layout::kAuto: blocked on AVX2 CPUs, for graphs without grouped / depthwise convolutions.
// oneDNN's AVX2 depthwise kernels and global pooling run slower blocked than channels-last at small
// spatial sizes (MobileNetV3-Small at batch 128: 1.8x slower), while dense 3x3 convs gain 10-30 %
// (docs/PERFORMANCE.md, "Issue 10, part 6"). Of the rest, only those where spatial (k > 1) convs do
// at least half the conv MACs: the gain is theirs; 1x1 convs run level or slower blocked
// (DenseNet-121, 48 % spatial MACs: 4-8 % slower overall; ResNet-50, also 48 %: level at 2 threads).
bool auto_layout_blocks(const std::vector<ir::Node*>& order,
                        const std::unordered_map<std::string, int64_t>& macs_by_node) {
  if (!kernels::onednn::blocked_f32_layout_preferred()) return false;
  int64_t conv_macs = 0, spatial_macs = 0;
  for (const ir::Node* node : order) {
    if (node->kind != ir::OpKind::Conv && node->kind != ir::OpKind::FusedConv) continue;
    if (reference::conv_attrs(*node).group > 1) return false;
    const auto it = macs_by_node.find(node->name);
    const int64_t macs = it == macs_by_node.end() ? 0 : it->second;
    conv_macs += macs;
    const ir::Value* w = node->input(1);
    bool spatial = false;
    if (w != nullptr && w->shape) {
      for (size_t i = 2; i < w->shape->size(); ++i) {
        const ir::Dim& d = (*w->shape)[i];
        spatial = spatial || !d.is_static() || d.value > 1;
      }
    }
    if (spatial) spatial_macs += macs;
  }
  return 2 * spatial_macs >= conv_macs;
}

}  // namespace

Result<std::unique_ptr<Plan>> Session::Impl::compile(std::span<const Tensor> inputs, int threads) {
  // Primitives are created for the current thread count (it is part of their cache key).
  HQP_RETURN_IF_ERROR(kernels::onednn::set_num_threads(threads));
  auto plan = std::make_unique<Plan>();
  plan->threads = threads;
  plan->adapter = runtime::ThreadAdapter(threads);
  plan->graph = graph.clone();
  ir::Graph& g = plan->graph;
  for (size_t i = 0; i < inputs.size(); ++i) g.inputs()[i]->shape = ir::dims_from_shape(inputs[i].shape());
  HQP_RETURN_IF_ERROR(ir::infer_shapes(g).with_context("cannot compile model for the given input shapes"));
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, g.topological_order());
  const ir::ModelStats stats = ir::compute_stats(g);
  std::unordered_map<std::string, int64_t> macs_by_node;
  for (const ir::LayerStats& l : stats.layers) macs_by_node[l.name] = l.macs;

  // Slot of each value in each layout it has been materialized in.
  std::map<std::pair<const ir::Value*, Layout>, int> slot_of;
  std::unordered_map<const ir::Value*, int> primary;  // the slot its producer wrote
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const ir::Value* v = g.inputs()[i];
    Slot s;
    s.info = {v->dtype, inputs[i].shape(), Layout::kNchw};
    s.kind = Slot::Kind::kInput;
    s.input_index = static_cast<int>(i);
    const int id = add_slot(*plan, std::move(s));
    slot_of[{v, Layout::kNchw}] = id;
    primary[v] = id;
  }
  for (const ir::Value* v : g.initializers()) {
    Slot s;
    s.info = {v->dtype, v->data.shape(), Layout::kNchw};
    s.kind = Slot::Kind::kConstant;
    s.data = v->data.raw_data();
    const int id = add_slot(*plan, std::move(s));
    slot_of[{v, Layout::kNchw}] = id;
    primary[v] = id;
  }

  runtime::SelectOptions select;
  select.fast_kernels = options.engine == Engine::kFast;
  select.tune_kernels = options.tune_kernels;
  select.blocked_f32 = options.f32_layout == F32Layout::kNchw8c ||
                       (options.f32_layout == F32Layout::kAuto && auto_layout_blocks(order, macs_by_node));
  // Returns the slot holding `v` in `layout`, inserting a reorder step when needed.
  auto slot_in_layout = [&](const ir::Value* v, Layout layout) -> Result<int> {
    const int src = primary.at(v);
    const Slot& s = plan->slots[static_cast<size_t>(src)];
    if (s.info.layout == layout || runtime::layout_agnostic(s.info.shape) || s.kind == Slot::Kind::kConstant) {
      return src;
    }
    auto it = slot_of.find({v, layout});
    if (it != slot_of.end()) return it->second;
    HQP_ASSIGN_OR_RETURN(std::unique_ptr<runtime::RuntimeOp> reorder, runtime::make_reorder(s.info, layout));
    Slot dst;
    dst.info = {s.info.dtype, s.info.shape, layout};
    const int id = add_slot(*plan, std::move(dst));
    Step step;
    step.name = fmt::format("reorder:{}", v->name);
    step.op = "Reorder";
    step.kernel = std::move(reorder);
    step.in = {src};
    step.out = {id};
    plan->steps.push_back(std::move(step));
    slot_of[{v, layout}] = id;
    return id;
  };

  for (const ir::Node* node : order) {
    std::vector<SlotInfo> in_info(node->num_inputs());
    for (size_t i = 0; i < node->num_inputs(); ++i) {
      if (const ir::Value* v = node->input(i)) in_info[i] = plan->slots[static_cast<size_t>(primary.at(v))].info;
    }
    NodePlanInfo info;
    info.node = node->name;
    info.op = std::string(ir::op_name(node->kind));
    HQP_ASSIGN_OR_RETURN(runtime::OpChoice choice,
                         runtime::select_op(*node, in_info, g.opset(), select, &info.rejected));
    Step step;
    step.node = node;
    step.name = node->name;
    step.op = info.op;
    for (size_t i = 0; i < node->num_inputs(); ++i) {
      const ir::Value* v = node->input(i);
      if (v == nullptr) {
        step.in.push_back(-1);
        continue;
      }
      const Layout want = i < choice.input_layouts.size() ? choice.input_layouts[i] : Layout::kNchw;
      HQP_ASSIGN_OR_RETURN(int id, slot_in_layout(v, want));
      step.in.push_back(id);
    }
    for (size_t i = 0; i < node->num_outputs(); ++i) {
      const ir::Value* v = node->output(i);
      if (v == nullptr) {
        step.out.push_back(-1);
        continue;
      }
      auto shape = v->shape ? ir::static_shape(*v->shape) : std::nullopt;
      if (!shape) {
        return make_error(StatusCode::kInternal, "cannot compile node '{}': output '{}' has no static shape",
                          node->name, v->name);
      }
      Slot s;
      s.info = {v->dtype, *shape, choice.output_layout};
      const int id = add_slot(*plan, std::move(s));
      slot_of[{v, choice.output_layout}] = id;
      primary[v] = id;
      step.out.push_back(id);
    }
    info.implementation = choice.op->implementation();
    plan->weight_bytes += choice.op->weight_bytes();
    step.kernel = std::move(choice.op);
    // compute_stats counts at batch 1 (leading output dim as 1); scale to this plan's batch.
    auto m = macs_by_node.find(node->name);
    const ir::Value* out0 = node->output(0);
    const int64_t batch = out0 && out0->shape && !out0->shape->empty() && (*out0->shape)[0].is_static()
                              ? (*out0->shape)[0].value : 1;
    if (m != macs_by_node.end()) step.macs = m->second * batch;
    plan->steps.push_back(std::move(step));
    plan->info.push_back(std::move(info));
  }
  for (const ir::Value* v : g.outputs()) {
    HQP_ASSIGN_OR_RETURN(int id, slot_in_layout(v, Layout::kNchw));
    plan->outputs.push_back(id);
  }
  // Initializers whose every reader packed them: recorded for release_packed(); the others count
  // as weights the plan reads from the graph.
  std::unordered_map<const ir::Node*, size_t> step_of;
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    if (plan->steps[i].node != nullptr) step_of[plan->steps[i].node] = i;
  }
  for (const ir::Value* v : g.initializers()) {
    bool all_packed = !v->uses().empty() && !g.is_graph_output(v);
    ReleasedWeight r;
    for (const ir::Use& u : v->uses()) {
      auto it = step_of.find(u.node);
      if (it == step_of.end()) {
        all_packed = false;
        break;
      }
      const std::vector<size_t> packed = plan->steps[it->second].kernel->packed_inputs();
      const size_t input = static_cast<size_t>(u.input_index);
      if (std::find(packed.begin(), packed.end(), input) == packed.end()) {
        all_packed = false;
        break;
      }
      r = {plan.get(), it->second, input, v->dtype, v->data.shape()};
    }
    if (all_packed) {
      plan->packed[v->name] = r;
      const int id = slot_of.at({v, Layout::kNchw});
      plan->slots[static_cast<size_t>(id)].data = nullptr;  // never read: the op has its own copy
    } else {
      plan->weight_bytes += v->data.nbytes();
    }
  }

  // Liveness of arena slots, then offsets.
  for (size_t s = 0; s < plan->steps.size(); ++s) {
    for (int id : plan->steps[s].out) {
      if (id >= 0 && plan->slots[static_cast<size_t>(id)].first_step < 0) plan->slots[static_cast<size_t>(id)].first_step = static_cast<int>(s);
    }
    for (int id : plan->steps[s].in) {
      if (id >= 0) plan->slots[static_cast<size_t>(id)].last_step = static_cast<int>(s);
    }
  }
  const int end = static_cast<int>(plan->steps.size());
  for (int id : plan->outputs) plan->slots[static_cast<size_t>(id)].last_step = end;
  std::vector<runtime::BufferRequest> requests;
  std::vector<int> arena_slots;
  for (size_t i = 0; i < plan->slots.size(); ++i) {
    Slot& s = plan->slots[i];
    if (s.kind != Slot::Kind::kArena) continue;
    if (s.first_step < 0) s.first_step = 0;
    if (s.last_step < s.first_step) s.last_step = s.first_step;  // written, never read
    requests.push_back({s.bytes, s.first_step, s.last_step});
    arena_slots.push_back(static_cast<int>(i));
  }
  plan->arena = runtime::plan_arena(requests);
  for (size_t r = 0; r < arena_slots.size(); ++r) {
    plan->slots[static_cast<size_t>(arena_slots[r])].offset = plan->arena.offsets[r];
  }
  const size_t arena_bytes = static_cast<size_t>(std::max<int64_t>(plan->arena.arena_bytes, runtime::kArenaAlignment));
  auto* mem = static_cast<std::byte*>(
      ::operator new[](arena_bytes, std::align_val_t(runtime::kArenaAlignment), std::nothrow));
  if (mem == nullptr) {
    return make_error(StatusCode::kOutOfRange, "cannot allocate the activation arena of {} bytes", arena_bytes);
  }
  plan->arena_memory = std::unique_ptr<std::byte[], AlignedFree>(mem);
  return plan;
}

Status Session::Impl::execute(Plan& plan, std::span<const Tensor> inputs, bool profile) {
  HQP_RETURN_IF_ERROR(kernels::onednn::set_num_threads(plan.threads));
  std::byte* arena = plan.arena_memory.get();
  auto pointer = [&](int id) -> void* {
    if (id < 0) return nullptr;
    const Slot& s = plan.slots[static_cast<size_t>(id)];
    switch (s.kind) {
      case Slot::Kind::kArena: return arena + s.offset;
      case Slot::Kind::kConstant: return const_cast<void*>(s.data);
      case Slot::Kind::kInput: return const_cast<void*>(inputs[static_cast<size_t>(s.input_index)].raw_data());
    }
    return nullptr;
  };
  std::vector<const void*> in;
  std::vector<void*> out;
  for (Step& step : plan.steps) {
    in.clear();
    out.clear();
    for (int id : step.in) in.push_back(pointer(id));
    for (int id : step.out) out.push_back(pointer(id));
    const auto t0 = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status st = step.kernel->run(in, out);
    if (!st.ok()) {
      // The reference kernels already name the node and op; oneDNN kernels name neither.
      const std::string context = fmt::format("cannot run node '{}'", step.name);
      if (st.message().rfind(context, 0) == 0) return st;
      return st.with_context(fmt::format("{} ({})", context, step.op));
    }
    if (profile) {
      step.total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++step.runs;
    }
  }
  return Status();
}

namespace {

// CPU time of the whole process so far (ms; -1 when the clock is unavailable).
double process_cpu_ms() {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return -1.0;
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

// Median of `rounds` x `runs` timed executions (ms per run), one round per call of `round`.
double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

Result<std::unique_ptr<Plan>> Session::Impl::compile_tuned(std::span<const Tensor> inputs) {
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<Plan> wide, compile(inputs, options.threads));
  if (options.threads <= 1 || !options.tune_threads) return wide;
  using Clock = std::chrono::steady_clock;
  auto time_runs = [&](Plan& p, int runs) -> Result<double> {
    const auto t0 = Clock::now();
    for (int r = 0; r < runs; ++r) HQP_RETURN_IF_ERROR(execute(p, inputs, false));
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / runs;
  };
  // A plan that cannot run is returned as it is: the caller's run reports the error (and
  // plan_info() says why each kernel was chosen).
  if (!time_runs(*wide, 1).ok()) return wide;  // warm-up (first touch, caches)
  Result<double> first = time_runs(*wide, 1);
  constexpr double kTuneBelowMs = 2.0;  // larger plans gain from threads; tuning them costs seconds
  if (!first.ok() || *first > kTuneBelowMs) return wide;
  Result<std::unique_ptr<Plan>> narrow = compile(inputs, 1);
  if (!narrow.ok() || !time_runs(**narrow, 1).ok()) return wide;
  const int runs = std::clamp(static_cast<int>(1.0 / std::max(*first, 1e-3)), 3, 50);  // ~1 ms per round and plan
  std::vector<double> tw, tn;
  for (int round = 0; round < 5; ++round) {
    HQP_ASSIGN_OR_RETURN(double a, time_runs(*wide, runs));
    HQP_ASSIGN_OR_RETURN(double b, time_runs(**narrow, runs));
    tw.push_back(a);
    tn.push_back(b);
  }
  // The one-thread plan must win clearly: on a tie the caller's thread count stands.
  if (median_of(tn) < 0.95 * median_of(tw)) return std::move(narrow).value();
  return wide;
}

Result<std::unique_ptr<Plan>> Session::Impl::compile_beside(
    const std::function<Result<std::unique_ptr<Plan>>()>& make) {
  const std::unordered_map<std::string, ReleasedWeight> before = released;
  Status restored = restore_released();
  Result<std::unique_ptr<Plan>> p = restored.ok() ? make() : Result<std::unique_ptr<Plan>>(restored);
  if (!p.ok()) {
    // The earlier plans still hold the packed copies: drop the restored graph copies again.
    for (const auto& [name, r] : before) {
      if (ir::Value* v = graph.find_value(name)) v->data = Tensor();
    }
    released = before;
    return p.status();
  }
  release_packed(**p);
  return p;
}

Result<Plan*> Session::Impl::plan_for(std::span<const Tensor> inputs) {
  HQP_RETURN_IF_ERROR(reference::check_run_inputs(graph, inputs));
  const std::string key = shape_key(inputs);
  auto it = plans.find(key);
  if (it == plans.end()) {
    HQP_ASSIGN_OR_RETURN(std::unique_ptr<Plan> plan, compile_beside([&] { return compile_tuned(inputs); }));
    it = plans.emplace(key, std::move(plan)).first;
  }
  last = it->second.get();
  return last;
}

Plan* Session::Impl::choose(Plan& plan, std::span<const Tensor> inputs, runtime::ThreadAdapter::Choice& choice) {
  using Choice = runtime::ThreadAdapter::Choice;
  choice = plan.adapter.next();
  if (choice == Choice::kWide) return &plan;
  if (!plan.narrow) {
    Result<std::unique_ptr<Plan>> narrow = compile_beside([&] { return compile(inputs, plan.threads - 1); });
    if (!narrow.ok()) {
      plan.narrow_failed = true;
      choice = Choice::kWide;
      return &plan;
    }
    plan.narrow = std::move(narrow).value();
  }
  return plan.narrow.get();
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

std::string Session::backend_version() {
  return fmt::format("oneDNN {} ({})", kernels::onednn::onednn_version(), kernels::onednn::threading_runtime());
}

Result<Session> Session::create(const ir::Graph& graph, const SessionOptions& options) {
  if (options.threads <= 0 || options.threads > kMaxSessionThreads) {
    return make_error(StatusCode::kInvalidArgument, "cannot create session: thread count {} (expected 1..{})",
                      options.threads, kMaxSessionThreads);
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->graph = graph.clone();
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(impl->graph));
  if (options.optimize) {
    passes::OptimizeOptions po;
    po.skip_output_requantize = options.fuse_requantize;
    HQP_ASSIGN_OR_RETURN(passes::OptimizeReport report, passes::optimize_for_runtime(impl->graph, po));
    impl->optimize_report = report.to_string();
  }
  HQP_RETURN_IF_ERROR(kernels::onednn::set_num_threads(options.threads));
  return Session(std::move(impl));
}

Result<std::vector<Tensor>> Session::run(std::span<const Tensor> inputs) {
  HQP_ASSIGN_OR_RETURN(Plan * chosen, impl_->plan_for(inputs));
  Plan* plan = chosen;
  const bool adapt = impl_->options.adapt_threads && impl_->options.engine == Engine::kFast &&
                     chosen->threads > 1 && !chosen->narrow_failed;
  runtime::ThreadAdapter::Choice choice = runtime::ThreadAdapter::Choice::kWide;
  if (adapt) plan = impl_->choose(*chosen, inputs, choice);
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = adapt ? process_cpu_ms() : 0.0;
  Status ran = impl_->execute(*plan, inputs, impl_->options.profile);
  if (!ran.ok() && plan != chosen) {
    // The alternative on fewer threads failed where the chosen plan runs: never use it again.
    chosen->narrow_failed = true;
    plan = chosen;
    ran = impl_->execute(*plan, inputs, impl_->options.profile);
  }
  HQP_RETURN_IF_ERROR(ran);
  if (adapt && plan->ran) {
    const double cpu = process_cpu_ms() - cpu0;
    chosen->adapter.record(choice, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                           cpu0 >= 0.0 ? cpu : -1.0);
  }
  plan->ran = true;
  impl_->last = plan;
  std::byte* arena = plan->arena_memory.get();
  auto pointer = [&](int id) -> void* {
    const Slot& s = plan->slots[static_cast<size_t>(id)];
    switch (s.kind) {
      case Slot::Kind::kArena: return arena + s.offset;
      case Slot::Kind::kConstant: return const_cast<void*>(s.data);
      case Slot::Kind::kInput: return const_cast<void*>(inputs[static_cast<size_t>(s.input_index)].raw_data());
    }
    return nullptr;
  };
  std::vector<Tensor> results;
  for (int id : plan->outputs) {
    const Slot& s = plan->slots[static_cast<size_t>(id)];
    HQP_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(s.info.dtype, s.info.shape));
    if (t.nbytes() > 0) std::memcpy(t.raw_data(), pointer(id), static_cast<size_t>(t.nbytes()));
    results.push_back(std::move(t));
  }
  return results;
}

const ir::Graph& Session::graph() const { return impl_->graph; }
const std::string& Session::optimize_report() const { return impl_->optimize_report; }
const std::vector<NodePlanInfo>& Session::plan_info() const {
  return impl_->last ? impl_->last->info : impl_->empty_info;
}
int64_t Session::peak_activation_bytes() const { return impl_->last ? impl_->last->arena.arena_bytes : 0; }
int64_t Session::naive_activation_bytes() const { return impl_->last ? impl_->last->arena.naive_bytes : 0; }
int64_t Session::weight_bytes() const { return impl_->last ? impl_->last->weight_bytes : 0; }
int64_t Session::plan_count() const { return static_cast<int64_t>(impl_->plans.size()); }
int Session::plan_threads() const { return impl_->last ? impl_->last->threads : impl_->options.threads; }
void Session::force_narrow_for_testing() {
  for (auto& [key, plan] : impl_->plans) plan->adapter.force_narrow();
}
int64_t Session::thread_switches() const {
  int64_t n = 0;
  for (const auto& [key, plan] : impl_->plans) n += plan->adapter.switches();
  return n;
}

std::vector<StepProfile> Session::profile() const {
  std::vector<StepProfile> out;
  if (!impl_->last) return out;
  for (const Step& s : impl_->last->steps) {
    out.push_back({s.name, s.op, s.kernel->implementation(), s.runs, s.total_ms, s.macs});
  }
  return out;
}

void Session::reset_profile() {
  if (!impl_->last) return;
  for (Step& s : impl_->last->steps) {
    s.total_ms = 0;
    s.runs = 0;
  }
}

std::optional<F32Layout> f32_layout_from_name(std::string_view name) {
  if (name == "auto") return F32Layout::kAuto;
  if (name == "nhwc") return F32Layout::kNhwc;
  if (name == "nchw8c") return F32Layout::kNchw8c;
  return std::nullopt;
}

}  // namespace hqp
