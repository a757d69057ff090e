// GradientSync: bucketed, hook-driven allreduce of gradients on c10d (see gradient_sync.h).
#include "distributed/gradient_sync.h"

#include <mutex>

#include "distributed/gloo_group.h"

namespace hqp::distributed {

struct GradientSync::State {
  GroupPtr group;
  std::vector<at::Tensor> params;
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;  // in the bucket's flat buffer
    int fired = 0;       // hook calls in this backward
  };
  std::vector<Slot> slots;  // per parameter
  struct Bucket {
    at::Tensor flat;            // [sum of numel], the members' dtype
    std::vector<size_t> members;  // parameter indices
    int pending = 0;            // members still without a gradient in this backward
    bool launched = false;
    bool dirty = false;         // a gradient arrived after launch (shared weight)
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  std::mutex mu;
  bool armed = false;
  std::string hook_error;  // a c10d failure raised inside a hook (reported by finish)

  void launch(Bucket& b) {
    b.launched = true;
    try {
      std::vector<at::Tensor> t{b.flat};
      b.work = group->impl().pg->allreduce(t);
    } catch (const std::exception& e) {
      if (hook_error.empty()) hook_error = e.what();
    }
  }

  void on_grad(size_t p, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;
    Slot& s = slots[p];
    Bucket& b = buckets[s.bucket];
    at::Tensor dst = b.flat.narrow(0, s.offset, params[p].numel());
    at::NoGradGuard no_grad;
    if (s.fired == 0) {
      dst.copy_(grad.detach().reshape({-1}));
    } else if (!b.launched) {
      dst.add_(grad.detach().reshape({-1}));
    } else {
      b.dirty = true;
    }
    if (++s.fired == 1 && --b.pending == 0) launch(b);
  }
};

GradientSync::GradientSync(GroupPtr group, std::vector<at::Tensor> params, int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  State& st = *state_;
  st.group = std::move(group);
  st.params = std::move(params);
  st.slots.resize(st.params.size());
  // Reverse order: the last layers' gradients come first in backward.
  int64_t cap = std::min<int64_t>(kFirstBucketBytes, bucket_bytes);
  State::Bucket current;
  int64_t bytes = 0;
  auto close = [&] {
    if (current.members.empty()) return;
    int64_t numel = 0;
    for (size_t p : current.members) {
      st.slots[p].bucket = st.buckets.size();
      st.slots[p].offset = numel;
      numel += st.params[p].numel();
    }
    current.flat = at::zeros({numel}, st.params[current.members.front()].scalar_type());
    st.buckets.push_back(std::move(current));
    current = State::Bucket();
    bytes = 0;
    cap = bucket_bytes;
  };
  for (size_t i = st.params.size(); i-- > 0;) {
    // A bucket holds one dtype (one flat buffer).
    if (!current.members.empty() && st.params[current.members.front()].scalar_type() != st.params[i].scalar_type()) {
      close();
    }
    current.members.push_back(i);
    bytes += st.params[i].numel() * static_cast<int64_t>(st.params[i].element_size());
    if (bytes >= cap) close();
  }
  close();
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < st.params.size(); ++i) {
    if (!st.params[i].requires_grad()) continue;
    st.params[i].register_hook([weak, i](at::Tensor grad) -> at::Tensor {
      if (auto s = weak.lock()) s->on_grad(i, grad);
      return grad;
    });
  }
}

GradientSync::~GradientSync() = default;

int64_t GradientSync::num_buckets() const { return static_cast<int64_t>(state_->buckets.size()); }

void GradientSync::begin() {
  State& st = *state_;
  std::lock_guard<std::mutex> lock(st.mu);
  for (auto& s : st.slots) s.fired = 0;
  for (auto& b : st.buckets) {
    b.pending = static_cast<int>(b.members.size());
    b.launched = false;
    b.dirty = false;
    b.work.reset();
  }
  st.hook_error.clear();
  st.armed = true;
}

Status GradientSync::finish() {
  State& st = *state_;
  std::unique_lock<std::mutex> lock(st.mu);
  st.armed = false;
  ProcessGroup& group = *st.group;
  if (!st.hook_error.empty()) return group.failure("gradient allreduce", st.hook_error);
  // Buckets whose parameters did not all receive a gradient: zero for the missing ones.
  for (auto& b : st.buckets) {
    if (b.launched) continue;
    for (size_t p : b.members) {
      if (st.slots[p].fired == 0) b.flat.narrow(0, st.slots[p].offset, st.params[p].numel()).zero_();
    }
    st.launch(b);
  }
  lock.unlock();
  if (!st.hook_error.empty()) return group.failure("gradient allreduce", st.hook_error);
  for (auto& b : st.buckets) {
    HQP_RETURN_IF_ERROR(guarded(group, "gradient allreduce", [&](c10d::ProcessGroupGloo&) { b.work->wait(); }));
    if (b.dirty) {
      // A gradient arrived after the bucket left: reduce it again from the accumulated .grad.
      at::NoGradGuard no_grad;
      for (size_t p : b.members) {
        const at::Tensor& g = st.params[p].grad();
        at::Tensor dst = b.flat.narrow(0, st.slots[p].offset, st.params[p].numel());
        if (g.defined()) dst.copy_(g.reshape({-1})); else dst.zero_();
      }
      HQP_RETURN_IF_ERROR(guarded(group, "gradient allreduce", [&](c10d::ProcessGroupGloo& pg) {
        std::vector<at::Tensor> t{b.flat};
        pg.allreduce(t)->wait();
      }));
    }
  }
  at::NoGradGuard no_grad;
  for (size_t p = 0; p < st.params.size(); ++p) {
    at::Tensor& param = st.params[p];
    if (!param.requires_grad()) continue;
    const auto& slot = st.slots[p];
    at::Tensor summed = st.buckets[slot.bucket].flat.narrow(0, slot.offset, param.numel()).view(param.sizes());
    if (param.mutable_grad().defined()) {
      param.mutable_grad().copy_(summed);
    } else {
      param.mutable_grad() = summed.clone();
    }
  }
  return Status();
}

Status GradientSync::contribute_nothing() {
  begin();
  {
    State& st = *state_;
    std::lock_guard<std::mutex> lock(st.mu);
    for (auto& b : st.buckets) b.flat.zero_();
  }
  return finish();
}

}  // namespace hqp::distributed
