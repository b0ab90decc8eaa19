// N-API addon: oneDNN 2.x convolution forward / backward-data / backward-weights, training-mode batch
// normalization forward / backward, ReLU with its gradient, and per-channel bias adds and sums, on
// caller-owned float32 buffers (NHWC activations, HWIO filters as tfjs lays them out). Every buffer is a
// typed array the caller owns; views of the tfjs wasm heap work (also when the heap is a SharedArrayBuffer,
// as in the threaded wasm build), so no tensor is copied on the way in or out. Loaded by src/index.ts; the
// kernels that call it live in @unet/runtime (src/native/).
#include <node_api.h>
#include <omp.h>

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dnnl.hpp"

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

enum Op { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

// N, H, W, IC, OH, OW, OC, KH, KW, strideH, strideW, padTop, padLeft, padBottom, padRight
using Geometry = std::array<int, 15>;

dnnl::engine& Engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}
dnnl::stream& Stream() {
  static dnnl::stream s(Engine());
  return s;
}

// What a forward convolution adds after the sums: a per-channel bias, and a ReLU (oneDNN post-op).
enum Fuse { kNone = 0, kBias = 1, kRelu = 2 };

struct Plan {
  dnnl::primitive conv;
  memory::desc bias;
  std::string impl;
  memory::desc act_in, act_out, user_weights, weights;  // act_in: x or dy; act_out: y, dx (op 0/1)
  bool reorder_weights = false;
  dnnl::reorder weights_reorder;  // user -> primitive (op 0/1) or primitive -> user (op 2)
  std::vector<float> weights_scratch;
  // Op 1 run as a forward convolution of dy with the filter turned 180° and its in and out channels swapped
  // (stride 1 only): the taps are copied in reverse order here, the swap is in user_weights' strides.
  bool flipped = false;
  std::vector<float> flipped_taps;
};

// Keyed by op + 4 · fuse flags (forward only) and the geometry.
std::map<std::pair<int, Geometry>, std::unique_ptr<Plan>> plans;

std::unique_ptr<Plan> MakePlan(int op, const Geometry& g, int fuse) {
  auto& eng = Engine();
  const memory::dim N = g[0], H = g[1], W = g[2], IC = g[3], OH = g[4], OW = g[5], OC = g[6], KH = g[7], KW = g[8];
  memory::dims strides{g[9], g[10]}, pad_l{g[11], g[12]}, pad_r{g[13], g[14]};
  memory::desc src({N, IC, H, W}, dt::f32, tag::nhwc);
  memory::desc dst({N, OC, OH, OW}, dt::f32, tag::nhwc);
  memory::desc user_w({OC, IC, KH, KW}, dt::f32, tag::hwio);
  memory::desc any_w({OC, IC, KH, KW}, dt::f32, tag::any);
  dnnl::convolution_forward::desc fwd_d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                        src, any_w, dst, strides, pad_l, pad_r);
  dnnl::convolution_forward::primitive_desc fwd_pd(fwd_d, eng);
  auto plan = std::make_unique<Plan>();
  plan->user_weights = user_w;
  if (op == kForward && fuse != kNone) {
    // Prediction: no backward pass will read this primitive's workspace, so forward_inference.
    memory::desc bias_d({OC}, dt::f32, tag::a);
    dnnl::primitive_attr attr;
    if (fuse & kRelu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    auto d = (fuse & kBias) ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                               src, any_w, bias_d, dst, strides, pad_l, pad_r)
                            : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                               src, any_w, dst, strides, pad_l, pad_r);
    dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
    plan->conv = dnnl::convolution_forward(pd);
    plan->impl = pd.impl_info_str();
    plan->weights = pd.weights_desc();
    plan->bias = bias_d;
  } else if (op == kForward) {
    plan->conv = dnnl::convolution_forward(fwd_pd);
    plan->impl = fwd_pd.impl_info_str();
    plan->weights = fwd_pd.weights_desc();
  } else if (op == kBackwardData && g[9] == 1 && g[10] == 1 && g[11] < KH && g[13] < KH && g[12] < KW && g[14] < KW) {
    // dx = dy ⊛ w′, w′[kh][kw][o][i] = w[KH−1−kh][KW−1−kw][i][o], padded by K − 1 − the forward padding on each
    // side. oneDNN 2.6's forward kernel (brgconv on AVX-512) beats its backward-data one (jit) by 0–20% per 3 × 3
    // shape of a U-Net (2–5% over a training step's input gradients), more than the copy of the taps costs.
    memory::dims flip_l{KH - 1 - g[11], KW - 1 - g[12]}, flip_r{KH - 1 - g[13], KW - 1 - g[14]};
    memory::desc flip_w({IC, OC, KH, KW}, dt::f32, tag::any);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, dst, flip_w, src,
                                      strides, flip_l, flip_r);
    dnnl::convolution_forward::primitive_desc pd(d, eng);
    plan->conv = dnnl::convolution_forward(pd);
    plan->impl = std::string(pd.impl_info_str()) + " (backward data as a forward convolution)";
    plan->weights = pd.weights_desc();
    // Logical [out = IC, in = OC, KH, KW] over the reversed taps (HWIO per tap: i stride OC, o stride 1).
    plan->user_weights = memory::desc({IC, OC, KH, KW}, dt::f32, memory::dims{OC, 1, KW * IC * OC, IC * OC});
    plan->flipped = true;
    plan->flipped_taps.resize(size_t(KH) * KW * IC * OC);
  } else if (op == kBackwardData) {
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src, any_w, dst, strides, pad_l, pad_r);
    dnnl::convolution_backward_data::primitive_desc pd(d, eng, fwd_pd);
    plan->conv = dnnl::convolution_backward_data(pd);
    plan->impl = pd.impl_info_str();
    plan->weights = pd.weights_desc();
  } else {
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, src, any_w, dst, strides, pad_l, pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(d, eng, fwd_pd);
    plan->conv = dnnl::convolution_backward_weights(pd);
    plan->impl = pd.impl_info_str();
    plan->weights = pd.diff_weights_desc();
  }
  plan->act_in = op == kBackwardData ? dst : src;
  plan->act_out = op == kBackwardData ? src : dst;
  const memory::desc& user = plan->user_weights;
  plan->reorder_weights = plan->weights != user;
  if (plan->reorder_weights) {
    plan->weights_scratch.resize(plan->weights.get_size() / sizeof(float));
    plan->weights_reorder = op == kBackwardWeights ? dnnl::reorder(dnnl::reorder::primitive_desc(eng, plan->weights, eng, user))
                                                   : dnnl::reorder(dnnl::reorder::primitive_desc(eng, user, eng, plan->weights));
  }
  return plan;
}

Plan& GetPlan(int op, const Geometry& g, int fuse = kNone) {
  auto key = std::make_pair(op + 4 * fuse, g);
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, MakePlan(op, g, fuse)).first;
  return *it->second;
}

void Run(int op, const Geometry& g, float* a, float* b, float* out, int fuse = kNone, float* bias = nullptr) {
  Plan& p = GetPlan(op, g, fuse);
  auto& eng = Engine();
  auto& s = Stream();
  if (op == kForward || op == kBackwardData) {
    // a: x (fwd) or dy (bwd data); b: HWIO filter; out: y or dx
    if (p.flipped) {
      const size_t tap = size_t(g[3]) * g[6], taps = size_t(g[7]) * g[8];
      for (size_t t = 0; t < taps; t++) std::memcpy(p.flipped_taps.data() + (taps - 1 - t) * tap, b + t * tap, tap * sizeof(float));
      b = p.flipped_taps.data();
    }
    memory user_w(p.user_weights, eng, b);
    memory w = user_w;
    if (p.reorder_weights) {
      w = memory(p.weights, eng, p.weights_scratch.data());
      p.weights_reorder.execute(s, user_w, w);
    }
    memory in(p.act_in, eng, a), res(p.act_out, eng, out);
    if (op == kForward && (fuse & kBias)) {
      memory bias_m(p.bias, eng, bias);
      p.conv.execute(s, {{DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, bias_m}, {DNNL_ARG_DST, res}});
    } else if (op == kForward || p.flipped) {
      p.conv.execute(s, {{DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, res}});
    } else {
      p.conv.execute(s, {{DNNL_ARG_DIFF_DST, in}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, res}});
    }
  } else {
    // a: x; b: dy; out: HWIO filter gradient
    memory x(p.act_in, eng, a), dy(p.act_out, eng, b);
    memory user_dw(p.user_weights, eng, out);
    memory dw = p.reorder_weights ? memory(p.weights, eng, p.weights_scratch.data()) : user_dw;
    p.conv.execute(s, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
    if (p.reorder_weights) p.weights_reorder.execute(s, dw, user_dw);
  }
  s.wait();
}

// Batch normalization in training mode over N·H·W per channel (NHWC): the forward pass computes the batch's
// mean and (biased) variance and normalizes with them; the backward pass gives dx, dscale and dshift with the
// statistics' own dependence on x included. Keyed by N, H, W, C and epsilon's bits.
//
// Always on one thread: oneDNN's JIT batch norm joins its threads with spinning barriers between its passes,
// and on a busy machine a descheduled thread left the other spinning: a U-Net step's 36 batch-norm passes
// took 390 ms CPU on 2 threads against 64 on one (load average 8 on 2 cores). The passes are memory-bound
// anyway. Plans are made and run under the same thread count, which sizes oneDNN's per-thread scratchpad.
class OneThread {
 public:
  OneThread() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(previous_); }

 private:
  int previous_;
};

using BnKey = std::array<int, 6>;

struct BnPlan {
  memory::desc data, stats, scale, workspace;
  dnnl::batch_normalization_forward forward;
  dnnl::batch_normalization_backward backward;
};

std::map<BnKey, std::unique_ptr<BnPlan>> bn_plans;

// relu: a ReLU after the normalization in the same pass (oneDNN's fuse_norm_relu); the forward pass then
// writes a workspace (which outputs the ReLU kept) that the backward pass reads to mask dy.
BnPlan& GetBnPlan(const std::array<int, 4>& shape, float epsilon, bool relu = false) {
  int eps_bits;
  std::memcpy(&eps_bits, &epsilon, sizeof eps_bits);
  BnKey key{shape[0], shape[1], shape[2], shape[3], eps_bits, relu ? 1 : 0};
  auto it = bn_plans.find(key);
  if (it != bn_plans.end()) return *it->second;
  auto& eng = Engine();
  auto plan = std::make_unique<BnPlan>();
  plan->data = memory::desc({shape[0], shape[3], shape[1], shape[2]}, dt::f32, tag::nhwc);
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  if (relu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
  dnnl::batch_normalization_forward::desc fd(dnnl::prop_kind::forward_training, plan->data, epsilon, flags);
  dnnl::batch_normalization_forward::primitive_desc fpd(fd, eng);
  dnnl::batch_normalization_backward::desc bd(dnnl::prop_kind::backward, plan->data, plan->data, epsilon, flags);
  dnnl::batch_normalization_backward::primitive_desc bpd(bd, eng, fpd);
  plan->stats = fpd.mean_desc();
  plan->scale = memory::desc({shape[3]}, dt::f32, tag::a);
  plan->workspace = fpd.workspace_desc();
  plan->forward = dnnl::batch_normalization_forward(fpd);
  plan->backward = dnnl::batch_normalization_backward(bpd);
  return *bn_plans.emplace(key, std::move(plan)).first->second;
}

bool ReadInts(napi_env env, napi_value v, int* out, uint32_t count) {
  uint32_t n = 0;
  if (napi_get_array_length(env, v, &n) != napi_ok || n != count) return false;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    if (napi_get_value_int32(env, e, &out[i]) != napi_ok) return false;
  }
  return true;
}

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

bool Float32Data(napi_env env, napi_value v, float** data, size_t* length) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta) return false;
  napi_typedarray_type type;
  void* ptr = nullptr;
  napi_get_typedarray_info(env, v, &type, length, &ptr, nullptr, nullptr);
  if (type != napi_float32_array) return false;
  *data = static_cast<float*>(ptr);
  return true;
}

bool ReadGeometry(napi_env env, napi_value v, Geometry* g) {
  uint32_t n = 0;
  if (napi_get_array_length(env, v, &n) != napi_ok || n != g->size()) return false;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    if (napi_get_value_int32(env, e, &(*g)[i]) != napi_ok) return false;
  }
  return true;
}

// conv(op, a, b, out, geometry[15], bias?: Float32Array | null, relu?: boolean) -> undefined
// bias and relu apply to op 0 (forward) only: out = relu(conv(a, b) + bias).
napi_value Conv(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 5 || argc > 7) return Throw(env, "conv(op, a, b, out, geometry, bias?, relu?): 5 to 7 arguments expected");
  int op = -1;
  napi_get_value_int32(env, argv[0], &op);
  if (op < 0 || op > 2) return Throw(env, "conv: op must be 0 (forward), 1 (backward data) or 2 (backward weights)");
  Geometry g{};
  if (!ReadGeometry(env, argv[4], &g)) return Throw(env, "conv: geometry must be an array of 15 integers");
  float *a, *b, *out;
  size_t na, nb, nout;
  if (!Float32Data(env, argv[1], &a, &na) || !Float32Data(env, argv[2], &b, &nb) || !Float32Data(env, argv[3], &out, &nout)) {
    return Throw(env, "conv: a, b and out must be Float32Arrays");
  }
  const size_t x = size_t(g[0]) * g[1] * g[2] * g[3], y = size_t(g[0]) * g[4] * g[5] * g[6], w = size_t(g[7]) * g[8] * g[3] * g[6];
  const std::array<size_t, 3> want = op == kForward ? std::array<size_t, 3>{x, w, y}
                                   : op == kBackwardData ? std::array<size_t, 3>{y, w, x}
                                                         : std::array<size_t, 3>{x, y, w};
  if (na < want[0] || nb < want[1] || nout < want[2]) return Throw(env, "conv: a buffer is smaller than the geometry needs");
  int fuse = kNone;
  float* bias = nullptr;
  if (argc >= 6) {
    napi_valuetype type;
    napi_typeof(env, argv[5], &type);
    if (type != napi_null && type != napi_undefined) {
      size_t nbias = 0;
      if (!Float32Data(env, argv[5], &bias, &nbias)) return Throw(env, "conv: bias must be a Float32Array, null or undefined");
      if (nbias < size_t(g[6])) return Throw(env, "conv: bias is shorter than the output channels");
      fuse |= kBias;
    }
  }
  if (argc >= 7) {
    napi_valuetype type;
    napi_typeof(env, argv[6], &type);
    bool relu = false;
    if (type != napi_undefined && type != napi_null && napi_get_value_bool(env, argv[6], &relu) != napi_ok) {
      return Throw(env, "conv: relu must be a boolean, null or undefined");
    }
    if (relu) fuse |= kRelu;
  }
  if (fuse != kNone && op != kForward) return Throw(env, "conv: bias and relu apply to op 0 (forward) only");
  try {
    Run(op, g, a, b, out, fuse, bias);
  } catch (const dnnl::error& e) {
    return Throw(env, std::string("oneDNN: ") + e.what());
  }
  return nullptr;
}

// Reads `count` Float32Arrays from argv: the first `activations` of N·H·W·C floats, the rest of C floats.
bool BnBuffers(napi_env env, napi_value* argv, int count, int activations, const std::array<int, 4>& shape, float** out) {
  const size_t act = size_t(shape[0]) * shape[1] * shape[2] * shape[3], channels = size_t(shape[3]);
  for (int i = 0; i < count; i++) {
    size_t n = 0;
    if (!Float32Data(env, argv[i], &out[i], &n) || n < (i < activations ? act : channels)) return false;
  }
  return true;
}

bool BnShape(napi_env env, napi_value shape_v, napi_value eps_v, std::array<int, 4>* shape, float* epsilon) {
  double eps = 0;
  if (!ReadInts(env, shape_v, shape->data(), 4) || napi_get_value_double(env, eps_v, &eps) != napi_ok || !(eps > 0)) return false;
  for (int d : *shape) {
    if (d < 1) return false;
  }
  *epsilon = float(eps);
  return true;
}

// The optional workspace argument of the batch-norm calls: null or undefined (no ReLU), or a Float32Array of at
// least batchNormReluWorkspace(shape, epsilon) floats (a ReLU fused after the normalization). False on a bad value.
bool BnWorkspace(napi_env env, napi_value v, const std::array<int, 4>& shape, float epsilon, float** ws) {
  *ws = nullptr;
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_null || type == napi_undefined) return true;
  size_t n = 0;
  if (!Float32Data(env, v, ws, &n)) return false;
  return n * sizeof(float) >= GetBnPlan(shape, epsilon, true).workspace.get_size();
}

// batchNormForward(x, scale, shift, y, mean, variance, shape[N, H, W, C], epsilon, workspace?) -> undefined
// y = scale · (x − mean) / sqrt(variance + epsilon) + shift, with the batch's mean and biased variance
// (written to mean and variance) over N, H and W. With a workspace, y = max(0, …) in the same pass, and the
// workspace records which outputs the ReLU kept, for batchNormBackward.
napi_value BatchNormForward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 8 && argc != 9) return Throw(env, "batchNormForward(x, scale, shift, y, mean, variance, shape, epsilon, workspace?): 8 or 9 arguments expected");
  std::array<int, 4> shape{};
  float epsilon = 0;
  if (!BnShape(env, argv[6], argv[7], &shape, &epsilon)) return Throw(env, "batchNormForward: shape must be 4 positive integers [N, H, W, C] and epsilon > 0");
  float* b[6];
  // x and y hold N·H·W·C floats; scale, shift, mean and variance C.
  napi_value order[6] = {argv[0], argv[3], argv[1], argv[2], argv[4], argv[5]};
  if (!BnBuffers(env, order, 6, 2, shape, b)) return Throw(env, "batchNormForward: every buffer must be a Float32Array as large as the shape needs");
  try {
    OneThread one;
    float* ws = nullptr;
    if (argc == 9 && !BnWorkspace(env, argv[8], shape, epsilon, &ws)) {
      return Throw(env, "batchNormForward: workspace must be null, undefined or a Float32Array of batchNormReluWorkspace(shape, epsilon) floats");
    }
    BnPlan& p = GetBnPlan(shape, epsilon, ws != nullptr);
    auto& eng = Engine();
    auto& s = Stream();
    memory x(p.data, eng, b[0]), y(p.data, eng, b[1]), scale(p.scale, eng, b[2]), shift(p.scale, eng, b[3]);
    memory mean(p.stats, eng, b[4]), variance(p.stats, eng, b[5]);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift},
                                         {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, variance}};
    if (ws != nullptr) args.emplace(DNNL_ARG_WORKSPACE, memory(p.workspace, eng, ws));
    p.forward.execute(s, args);
    s.wait();
  } catch (const dnnl::error& e) {
    return Throw(env, std::string("oneDNN: ") + e.what());
  }
  return nullptr;
}

// batchNormBackward(x, dy, mean, variance, scale, dx, dscale, dshift, shape[N, H, W, C], epsilon, workspace?) -> undefined
// The gradients of batchNormForward's y with respect to x (through the batch statistics too), scale and shift;
// with the forward pass's workspace, of its ReLU'd y (dy masked where the ReLU gave 0).
napi_value BatchNormBackward(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 10 && argc != 11) return Throw(env, "batchNormBackward(x, dy, mean, variance, scale, dx, dscale, dshift, shape, epsilon, workspace?): 10 or 11 arguments expected");
  std::array<int, 4> shape{};
  float epsilon = 0;
  if (!BnShape(env, argv[8], argv[9], &shape, &epsilon)) return Throw(env, "batchNormBackward: shape must be 4 positive integers [N, H, W, C] and epsilon > 0");
  float* b[8];
  napi_value order[8] = {argv[0], argv[1], argv[5], argv[2], argv[3], argv[4], argv[6], argv[7]};
  if (!BnBuffers(env, order, 8, 3, shape, b)) return Throw(env, "batchNormBackward: every buffer must be a Float32Array as large as the shape needs");
  try {
    OneThread one;
    float* ws = nullptr;
    if (argc == 11 && !BnWorkspace(env, argv[10], shape, epsilon, &ws)) {
      return Throw(env, "batchNormBackward: workspace must be null, undefined or a Float32Array of batchNormReluWorkspace(shape, epsilon) floats");
    }
    BnPlan& p = GetBnPlan(shape, epsilon, ws != nullptr);
    auto& eng = Engine();
    auto& s = Stream();
    memory x(p.data, eng, b[0]), dy(p.data, eng, b[1]), dx(p.data, eng, b[2]);
    memory mean(p.stats, eng, b[3]), variance(p.stats, eng, b[4]);
    memory scale(p.scale, eng, b[5]), dscale(p.scale, eng, b[6]), dshift(p.scale, eng, b[7]);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, variance},
                                         // oneDNN 2.6 asks for a shift too, though no gradient depends on it: the scale stands in.
                                         {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, scale}, {DNNL_ARG_DIFF_SRC, dx},
                                         {DNNL_ARG_DIFF_SCALE, dscale}, {DNNL_ARG_DIFF_SHIFT, dshift}};
    if (ws != nullptr) args.emplace(DNNL_ARG_WORKSPACE, memory(p.workspace, eng, ws));
    p.backward.execute(s, args);
    s.wait();
  } catch (const dnnl::error& e) {
    return Throw(env, std::string("oneDNN: ") + e.what());
  }
  return nullptr;
}

// batchNormReluWorkspace(shape[N, H, W, C], epsilon) -> the Float32Array length (floats) of the workspace that
// batchNormForward with a ReLU writes and batchNormBackward reads for that shape.
napi_value BatchNormReluWorkspace(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::array<int, 4> shape{};
  float epsilon = 0;
  if (argc != 2 || !BnShape(env, argv[0], argv[1], &shape, &epsilon)) {
    return Throw(env, "batchNormReluWorkspace(shape, epsilon): shape must be 4 positive integers [N, H, W, C] and epsilon > 0");
  }
  napi_value result;
  try {
    OneThread one;
    const size_t bytes = GetBnPlan(shape, epsilon, true).workspace.get_size();
    napi_create_double(env, double((bytes + sizeof(float) - 1) / sizeof(float)), &result);
  } catch (const dnnl::error& e) {
    return Throw(env, std::string("oneDNN: ") + e.what());
  }
  return result;
}

// Element-wise loops compiled once per vector width, the widest the CPU has picked when the addon loads (GCC's
// function multi-versioning, ELF only); elsewhere (clang, macOS) one build at the compiler's baseline.
#if defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define WIDEST_VECTORS __attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3")))
#else
#define WIDEST_VECTORS
#endif

// ReLU and its gradient as the wasm kernels compute them (y = x <= 0 ? 0 : x, so −0 gives +0 and NaN stays
// NaN; dx = x > 0 ? dy : 0), one thread: memory-bound passes.
WIDEST_VECTORS
void ReluLoop(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] <= 0.f ? 0.f : x[i];
}

WIDEST_VECTORS
void ReluGradLoop(const float* dy, const float* x, float* dx, size_t n) {
  for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
}

// relu(x, y) -> undefined: y = x <= 0 ? 0 : x over y's length (x at least as long).
napi_value Relu(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *x, *y;
  size_t nx = 0, ny = 0;
  if (argc != 2 || !Float32Data(env, argv[0], &x, &nx) || !Float32Data(env, argv[1], &y, &ny) || nx < ny) {
    return Throw(env, "relu(x, y): two Float32Arrays, x at least as long as y");
  }
  ReluLoop(x, y, ny);
  return nullptr;
}

// reluGrad(dy, x, dx) -> undefined: dx = x > 0 ? dy : 0 over dx's length.
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *dy, *x, *dx;
  size_t ndy = 0, nx = 0, ndx = 0;
  if (argc != 3 || !Float32Data(env, argv[0], &dy, &ndy) || !Float32Data(env, argv[1], &x, &nx) || !Float32Data(env, argv[2], &dx, &ndx) ||
      ndy < ndx || nx < ndx) {
    return Throw(env, "reluGrad(dy, x, dx): three Float32Arrays, dy and x at least as long as dx");
  }
  ReluGradLoop(dy, x, dx, ndx);
  return nullptr;
}

// Per-channel bias add and per-channel sums over channels-last data (the bias of a transposed convolution,
// forward and gradient): tfjs's broadcast Add and Sum over all axes but the last took 4–5× the time of a plain
// pass on the wasm backend.
WIDEST_VECTORS
void BiasAddLoop(const float* x, const float* bias, float* y, size_t rows, size_t channels) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    for (size_t c = 0; c < channels; c++) yr[c] = xr[c] + bias[c];
  }
}

// Sums in double per channel: as close to the exact sum as float32 output allows, whatever the order.
WIDEST_VECTORS
void ChannelSumsLoop(const float* x, double* acc, size_t rows, size_t channels) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * channels;
    for (size_t c = 0; c < channels; c++) acc[c] += xr[c];
  }
}

// biasAdd(x, bias, y) -> undefined: y[i] = x[i] + bias[i mod C] over y's length, C = bias's length.
napi_value BiasAdd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *x, *bias, *y;
  size_t nx = 0, nb = 0, ny = 0;
  if (argc != 3 || !Float32Data(env, argv[0], &x, &nx) || !Float32Data(env, argv[1], &bias, &nb) || !Float32Data(env, argv[2], &y, &ny) ||
      nb == 0 || ny % nb != 0 || nx < ny) {
    return Throw(env, "biasAdd(x, bias, y): three Float32Arrays, y's length a multiple of bias's, x at least as long as y");
  }
  BiasAddLoop(x, bias, y, ny / nb, nb);
  return nullptr;
}

// channelSums(x, out) -> undefined: out[c] = sum of x[r · C + c] over rows r, C = out's length.
napi_value ChannelSums(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  float *x, *out;
  size_t nx = 0, nout = 0;
  if (argc != 2 || !Float32Data(env, argv[0], &x, &nx) || !Float32Data(env, argv[1], &out, &nout) || nout == 0 || nx % nout != 0) {
    return Throw(env, "channelSums(x, out): two Float32Arrays, x's length a multiple of out's");
  }
  std::vector<double> acc(nout, 0.0);
  ChannelSumsLoop(x, acc.data(), nx / nout, nout);
  for (size_t c = 0; c < nout; c++) out[c] = float(acc[c]);
  return nullptr;
}

// implementation(op, geometry) -> oneDNN's name for the kernel it picked
napi_value Implementation(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int op = -1;
  if (argc == 2) napi_get_value_int32(env, argv[0], &op);
  if (op < 0 || op > 2) return Throw(env, "implementation(op, geometry): op must be 0, 1 or 2");
  Geometry g{};
  if (!ReadGeometry(env, argv[1], &g)) return Throw(env, "implementation: geometry must be an array of 15 integers");
  napi_value result;
  try {
    const std::string& s = GetPlan(op, g).impl;
    napi_create_string_utf8(env, s.c_str(), s.size(), &result);
  } catch (const dnnl::error& e) {
    return Throw(env, std::string("oneDNN: ") + e.what());
  }
  return result;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int n = 1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) return Throw(env, "setThreads(n): n must be an integer >= 1");
  omp_set_num_threads(n);
  return nullptr;
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_int32(env, omp_get_max_threads(), &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv", nullptr, Conv, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"implementation", nullptr, Implementation, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormForward", nullptr, BatchNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormBackward", nullptr, BatchNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormReluWorkspace", nullptr, BatchNormReluWorkspace, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relu", nullptr, Relu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"biasAdd", nullptr, BiasAdd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"channelSums", nullptr, ChannelSums, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
