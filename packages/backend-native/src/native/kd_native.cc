// @kd/backend-native: OpenBLAS sgemm kernels working in place on the memory of TensorFlow.js' wasm
// backend. Every entry point takes the wasm heap (an ArrayBuffer: WebAssembly.Memory.buffer) and
// element offsets (in floats) of its operands; nothing is copied in or out. Shapes are checked
// against the heap's size before any pointer is formed.
//
// Layouts are tfjs' row-major ones: matrices [M, K], conv inputs NHWC, filters HWIO
// ([KH, KW, CI, CO], i.e. a [KH * KW * CI, CO] matrix), conv outputs NHWC.

#define NAPI_VERSION 8
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

// The few CBLAS / OpenBLAS symbols used, declared here so the build needs no particular cblas.h
// (Debian, Fedora and Alpine install it in different folders); linked with -lopenblas.
extern "C" {
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA, enum CBLAS_TRANSPOSE transB, const int M, const int N,
                 const int K, const float alpha, const float* A, const int lda, const float* B, const int ldb, const float beta,
                 float* C, const int ldc);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
int openblas_get_parallel(void);
}

namespace {

// Convolutions and fused products run in chunks of output rows whose patches and outputs take
// about this many floats together (1 MiB: they stay in L2 between im2col, sgemm and the epilogue).
constexpr int64_t kChunkFloats = int64_t(256) << 10;

std::vector<float>& Scratch(size_t n) {
  static std::vector<float> scratch;
  if (scratch.size() < n) scratch.resize(n);
  return scratch;
}

struct Heap {
  float* data = nullptr;
  size_t floats = 0;
};

bool Fail(const Napi::Env& env, const std::string& message) {
  Napi::RangeError::New(env, "@kd/backend-native: " + message).ThrowAsJavaScriptException();
  return false;
}

bool GetHeap(const Napi::CallbackInfo& info, size_t i, Heap* heap) {
  if (info.Length() <= i || !info[i].IsArrayBuffer()) return Fail(info.Env(), "argument 0 must be the wasm heap (an ArrayBuffer)");
  Napi::ArrayBuffer buffer = info[i].As<Napi::ArrayBuffer>();
  heap->data = static_cast<float*>(buffer.Data());
  heap->floats = buffer.ByteLength() / sizeof(float);
  if (heap->data == nullptr && heap->floats > 0) return Fail(info.Env(), "the heap is detached");
  return true;
}

bool GetInt(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return Fail(info.Env(), "argument " + std::to_string(i) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= -1 && v <= 9007199254740991.0) || std::floor(v) != v)
    return Fail(info.Env(), "argument " + std::to_string(i) + " must be an integer >= -1");
  *out = static_cast<int64_t>(v);
  return true;
}

bool GetInts(const Napi::CallbackInfo& info, size_t from, size_t count, int64_t* out) {
  for (size_t j = 0; j < count; j++)
    if (!GetInt(info, from + j, out + j)) return false;
  return true;
}

/** [offset, offset + count) inside the heap (count may be 0). */
bool InHeap(const Napi::Env& env, const Heap& heap, int64_t offset, int64_t count, const char* what) {
  if (offset < 0 || count < 0 || static_cast<uint64_t>(offset) + static_cast<uint64_t>(count) > heap.floats)
    return Fail(env, std::string(what) + " lies outside the wasm heap");
  return true;
}

bool FitsInt(const Napi::Env& env, int64_t v) {
  if (v > 2147483647) return Fail(env, "a matrix dimension exceeds 2^31 - 1");
  return true;
}

// ---- info / threads -------------------------------------------------------------------------

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const char* config = openblas_get_config();
  const char* core = openblas_get_corename();
  out.Set("config", Napi::String::New(env, config ? config : ""));
  out.Set("corename", Napi::String::New(env, core ? core : ""));
  out.Set("threads", Napi::Number::New(env, openblas_get_num_threads()));
  out.Set("parallel", Napi::Number::New(env, openblas_get_parallel()));
  out.Set("napi", Napi::Number::New(env, NAPI_VERSION));
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int64_t n;
  if (!GetInt(info, 0, &n)) return info.Env().Undefined();
  if (n < 1) return Fail(info.Env(), "threads must be >= 1"), info.Env().Undefined();
  openblas_set_num_threads(static_cast<int>(std::min<int64_t>(n, 1024)));
  return Napi::Number::New(info.Env(), openblas_get_num_threads());
}

// ---- epilogue: bias and activation ----------------------------------------------------------

enum Broadcast { kNone = 0, kScalar = 1, kColumn = 2, kFull = 3 };
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kElu = 3, kSigmoid = 4, kLeakyRelu = 5, kPrelu = 6 };

/** activation(y + bias) of tfjs' fused ops, on rows of an [rows, n] output. */
struct Epilogue {
  const float* bias = nullptr;
  int biasMode = kNone;
  int act = kLinear;
  float alpha = 0;
  const float* prelu = nullptr;
  int preluMode = kNone;

  bool Empty() const { return biasMode == kNone && act == kLinear; }

  /** Applies it to `rows` rows at y, which are rows [r0, r0 + rows) of the whole output. */
  __attribute__((noinline)) void Apply(float* y, int64_t r0, int64_t rows, int64_t n) const {
    if (biasMode == kColumn && (act == kRelu || act == kLinear)) {
      // The common case (dense and conv layers), in one pass.
      const float* __restrict b = bias;
      for (int64_t r = 0; r < rows; r++) {
        float* __restrict row = y + r * n;
        if (act == kRelu) {
          for (int64_t j = 0; j < n; j++) row[j] = std::max(row[j] + b[j], 0.0f);
        } else {
          for (int64_t j = 0; j < n; j++) row[j] += b[j];
        }
      }
      return;
    }
    for (int64_t r = 0; r < rows; r++) {
      float* row = y + r * n;
      if (biasMode == kScalar) {
        const float b = bias[0];
        for (int64_t j = 0; j < n; j++) row[j] += b;
      } else if (biasMode != kNone) {
        const float* b = biasMode == kColumn ? bias : bias + (r0 + r) * n;
        for (int64_t j = 0; j < n; j++) row[j] += b[j];
      }
      switch (act) {
        case kRelu:
          for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? 0.0f : row[j];
          break;
        case kRelu6:
          for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? 0.0f : (row[j] > 6.0f ? 6.0f : row[j]);
          break;
        case kElu:
          for (int64_t j = 0; j < n; j++) row[j] = row[j] >= 0.0f ? row[j] : std::expm1(row[j]);
          break;
        case kSigmoid:
          for (int64_t j = 0; j < n; j++) row[j] = 1.0f / (1.0f + std::exp(-row[j]));
          break;
        case kLeakyRelu:
          for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? alpha * row[j] : row[j];
          break;
        case kPrelu: {
          if (preluMode == kScalar) {
            const float a = prelu[0];
            for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? a * row[j] : row[j];
          } else {
            const float* a = preluMode == kColumn ? prelu : prelu + (r0 + r) * n;
            for (int64_t j = 0; j < n; j++) row[j] = row[j] < 0.0f ? a[j] * row[j] : row[j];
          }
          break;
        }
        default:
          break;
      }
    }
  }
};

/**
 * Reads the six epilogue arguments at info[i..i+5] (biasOffset, biasMode, activation, alpha,
 * preluOffset, preluMode) for an output of rows x n, checking the operands lie in the heap. Absent
 * arguments mean no epilogue.
 */
bool GetEpilogue(const Napi::CallbackInfo& info, size_t i, const Heap& heap, int64_t rows, int64_t n, Epilogue* e) {
  Napi::Env env = info.Env();
  *e = Epilogue();
  if (info.Length() <= i || info[i].IsUndefined()) return true;
  int64_t v[3];
  if (!GetInts(info, i, 3, v)) return false;
  if (info.Length() <= i + 3 || !info[i + 3].IsNumber()) return Fail(env, "alpha must be a number");
  int64_t p[2];
  if (!GetInts(info, i + 4, 2, p)) return false;
  const int64_t biasOff = v[0], biasMode = v[1], act = v[2], preluOff = p[0], preluMode = p[1];
  if (biasMode < 0 || biasMode > 3 || preluMode < 0 || preluMode > 3 || act < 0 || act > 6) return Fail(env, "bad epilogue arguments");
  const auto need = [&](int64_t mode) -> int64_t { return mode == kScalar ? 1 : mode == kColumn ? n : mode == kFull ? rows * n : 0; };
  if (biasMode != kNone && !InHeap(env, heap, biasOff, need(biasMode), "the bias")) return false;
  if (act == kPrelu) {
    if (preluMode == kNone) return Fail(env, "prelu needs weights");
    if (!InHeap(env, heap, preluOff, need(preluMode), "the prelu weights")) return false;
  }
  e->bias = biasMode != kNone ? heap.data + biasOff : nullptr;
  e->biasMode = static_cast<int>(biasMode);
  e->act = static_cast<int>(act);
  e->alpha = info[i + 3].As<Napi::Number>().FloatValue();
  e->prelu = act == kPrelu ? heap.data + preluOff : nullptr;
  e->preluMode = static_cast<int>(preluMode);
  return true;
}

// epilogue(heap, offset, rows, n, biasOffset, biasMode, activation, alpha, preluOffset, preluMode)
// In place on the [rows, n] matrix at offset.
Napi::Value EpilogueCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t v[3];
  if (!GetHeap(info, 0, &heap) || !GetInts(info, 1, 3, v)) return env.Undefined();
  const int64_t off = v[0], rows = v[1], n = v[2];
  if (rows < 0 || n < 0) return Fail(env, "negative size"), env.Undefined();
  if (!InHeap(env, heap, off, rows * n, "the output")) return env.Undefined();
  Epilogue e;
  if (!GetEpilogue(info, 4, heap, rows, n, &e)) return env.Undefined();
  e.Apply(heap.data + off, 0, rows, n);
  return env.Undefined();
}

// ---- matmul ---------------------------------------------------------------------------------

/** Rows per block of a product with an epilogue: the block's output stays in L2 for it. */
int64_t BlockRows(int64_t n) { return std::max<int64_t>(64, kChunkFloats / std::max<int64_t>(1, n)); }

// gemm(heap, transA, transB, M, N, K, aOffsets: Int32Array, bOffsets: Int32Array, cOffset
//      [, biasOffset, biasMode, activation, alpha, preluOffset, preluMode])
// C[i] = op(A[i]) x op(B[i]) for every batch i, C contiguous [batch, M, N]. op(A) is [M, K]
// (A stored [K, M] when transposed), op(B) is [K, N]. Offsets are in floats. With the epilogue
// arguments, activation(C + bias) follows block by block (bias / prelu broadcast over the whole
// [batch * M, N] output).
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  if (!GetHeap(info, 0, &heap)) return env.Undefined();
  const bool transA = info[1].ToBoolean().Value();
  const bool transB = info[2].ToBoolean().Value();
  int64_t d[3];
  if (!GetInts(info, 3, 3, d)) return env.Undefined();
  const int64_t M = d[0], N = d[1], K = d[2];
  if (M < 0 || N < 0 || K < 0) return Fail(env, "negative matrix size"), env.Undefined();
  if (!FitsInt(env, M) || !FitsInt(env, N) || !FitsInt(env, K)) return env.Undefined();
  if (!info[6].IsTypedArray() || !info[7].IsTypedArray()) return Fail(env, "batch offsets must be Int32Arrays"), env.Undefined();
  Napi::Int32Array aOff = info[6].As<Napi::Int32Array>();
  Napi::Int32Array bOff = info[7].As<Napi::Int32Array>();
  if (aOff.TypedArrayType() != napi_int32_array || bOff.TypedArrayType() != napi_int32_array || aOff.ElementLength() != bOff.ElementLength())
    return Fail(env, "batch offsets must be two Int32Arrays of one length"), env.Undefined();
  int64_t cOff;
  if (!GetInt(info, 8, &cOff)) return env.Undefined();
  const int64_t batch = static_cast<int64_t>(aOff.ElementLength());
  if (!InHeap(env, heap, cOff, batch * M * N, "the output")) return env.Undefined();
  for (int64_t i = 0; i < batch; i++) {
    if (!InHeap(env, heap, aOff[static_cast<size_t>(i)], M * K, "operand a") || !InHeap(env, heap, bOff[static_cast<size_t>(i)], K * N, "operand b")) return env.Undefined();
  }
  Epilogue epi;
  if (!GetEpilogue(info, 9, heap, batch * M, N, &epi)) return env.Undefined();
  float* c = heap.data + cOff;
  if (batch == 0 || M == 0 || N == 0) return env.Undefined();
  if (K == 0) {
    std::memset(c, 0, sizeof(float) * batch * M * N);
    epi.Apply(c, 0, batch * M, N);
    return env.Undefined();
  }
  const int lda = static_cast<int>(transA ? M : K);
  const int ldb = static_cast<int>(transB ? K : N);
  const CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
  // One B for all batches and contiguous, untransposed A: fold the batch into the rows.
  bool fold = !transA && batch > 1 && batch * M <= 2147483647;
  for (int64_t i = 1; fold && i < batch; i++) fold = bOff[static_cast<size_t>(i)] == bOff[0] && int64_t(aOff[static_cast<size_t>(i)]) == int64_t(aOff[0]) + i * M * K;
  const int64_t rows = fold ? batch * M : M;
  const int64_t batches = fold ? 1 : batch;
  const int64_t block = epi.Empty() ? rows : std::min(rows, BlockRows(N));
  for (int64_t i = 0; i < batches; i++) {
    const float* a = heap.data + aOff[static_cast<size_t>(i)];
    const float* b = heap.data + bOff[static_cast<size_t>(i)];
    float* ci = c + i * M * N;
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      const int64_t m = std::min(block, rows - r0);
      // rows r0.. of op(A): rows of A, or columns of A when it is stored transposed
      const float* ar = transA ? a + r0 : a + r0 * K;
      cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(N), static_cast<int>(K), 1.0f, ar, lda, b, ldb, 0.0f,
                  ci + r0 * N, static_cast<int>(N));
      if (!epi.Empty()) epi.Apply(ci + r0 * N, i * M + r0, m, N);
    }
  }
  return env.Undefined();
}

// ---- convolution ----------------------------------------------------------------------------

struct Conv {
  int64_t B, H, W, CI, OH, OW, CO, KH, KW, SH, SW, DH, DW, PT, PL;
  int64_t Kc() const { return KH * KW * CI; }
  int64_t Rows() const { return OH * OW; }
  bool Pointwise() const { return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && OH == H && OW == W; }
};

bool GetConv(const Napi::CallbackInfo& info, size_t i, Conv* c) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsTypedArray()) return Fail(env, "conv geometry must be an Int32Array of 15");
  Napi::Int32Array g = info[i].As<Napi::Int32Array>();
  if (g.TypedArrayType() != napi_int32_array || g.ElementLength() != 15) return Fail(env, "conv geometry must be an Int32Array of 15");
  int64_t v[15];
  for (int j = 0; j < 15; j++) v[j] = g[j];
  *c = Conv{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  for (int j = 0; j < 13; j++)
    if (v[j] < 0) return Fail(env, "negative conv size");
  if (c->SH < 1 || c->SW < 1 || c->DH < 1 || c->DW < 1) return Fail(env, "strides and dilations must be >= 1");
  if (c->B * c->Rows() > 2147483647 || c->Kc() > 2147483647 || c->CO > 2147483647) return Fail(env, "conv too large");
  return true;
}

/** Walks output positions (b, oy, ox) from a flat row index without dividing at every row. */
struct Position {
  int64_t b, oy, ox;
  Position(const Conv& c, int64_t r) : b(r / c.Rows()), oy((r % c.Rows()) / c.OW), ox(r % c.OW) {}
  void Next(const Conv& c) {
    if (++ox == c.OW) {
      ox = 0;
      if (++oy == c.OH) {
        oy = 0;
        ++b;
      }
    }
  }
};

inline void Copy(float* dst, const float* src, int64_t n) {
  if (n <= 8) {
    for (int64_t i = 0; i < n; i++) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, sizeof(float) * n);
  }
}

inline void Zero(float* dst, int64_t n) {
  if (n <= 8) {
    for (int64_t i = 0; i < n; i++) dst[i] = 0.0f;
  } else {
    std::memset(dst, 0, sizeof(float) * n);
  }
}

inline void AddTo(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/** Output rows [r0, r0 + rows) of the flattened [B * OH * OW] batch as patches: col[rows, Kc]. */
void Im2col(const Conv& c, const float* x, int64_t r0, int64_t rows, float* col) {
  const int64_t kc = c.Kc(), CI = c.CI, span = c.KW * CI;
  Position p(c, r0);
  for (int64_t r = 0; r < rows; r++, p.Next(c)) {
    float* dst = col + r * kc;
    const float* img = x + p.b * c.H * c.W * CI;
    const int64_t iy0 = p.oy * c.SH - c.PT, ix0 = p.ox * c.SW - c.PL;
    const bool inside = ix0 >= 0 && ix0 + (c.KW - 1) * c.DW < c.W;
    for (int64_t ky = 0; ky < c.KH; ky++, dst += span) {
      const int64_t iy = iy0 + ky * c.DH;
      if (iy < 0 || iy >= c.H) {
        Zero(dst, span);
        continue;
      }
      const float* line = img + iy * c.W * CI;
      if (inside && c.DW == 1) {
        Copy(dst, line + ix0 * CI, span);  // the KW taps are contiguous
        continue;
      }
      for (int64_t kx = 0; kx < c.KW; kx++) {
        const int64_t ix = ix0 + kx * c.DW;
        if (ix < 0 || ix >= c.W) {
          Zero(dst + kx * CI, CI);
        } else {
          Copy(dst + kx * CI, line + ix * CI, CI);
        }
      }
    }
  }
}

/** Adds the patches col[rows, Kc] of output rows [r0, r0 + rows) back into dx (NHWC). */
void Col2im(const Conv& c, const float* col, int64_t r0, int64_t rows, float* dx) {
  const int64_t kc = c.Kc(), CI = c.CI, span = c.KW * CI;
  Position p(c, r0);
  for (int64_t r = 0; r < rows; r++, p.Next(c)) {
    const float* src = col + r * kc;
    float* img = dx + p.b * c.H * c.W * CI;
    const int64_t iy0 = p.oy * c.SH - c.PT, ix0 = p.ox * c.SW - c.PL;
    const bool inside = ix0 >= 0 && ix0 + (c.KW - 1) * c.DW < c.W;
    for (int64_t ky = 0; ky < c.KH; ky++, src += span) {
      const int64_t iy = iy0 + ky * c.DH;
      if (iy < 0 || iy >= c.H) continue;
      float* line = img + iy * c.W * CI;
      if (inside && c.DW == 1) {
        AddTo(line + ix0 * CI, src, span);
        continue;
      }
      for (int64_t kx = 0; kx < c.KW; kx++) {
        const int64_t ix = ix0 + kx * c.DW;
        if (ix >= 0 && ix < c.W) AddTo(line + ix * CI, src + kx * CI, CI);
      }
    }
  }
}

/** Rows per chunk: patches and outputs of a chunk take about kChunkFloats together. */
int64_t ChunkRows(const Conv& c) { return std::max<int64_t>(32, kChunkFloats / std::max<int64_t>(1, c.Kc() + c.CO)); }

// conv2d(heap, xOffset, filterOffset, yOffset, geometry[, epilogue x 6]): y[B, OH, OW, CO].
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  Conv c;
  int64_t o[3];
  if (!GetHeap(info, 0, &heap) || !GetInts(info, 1, 3, o) || !GetConv(info, 4, &c)) return env.Undefined();
  const int64_t total = c.B * c.Rows();
  if (!InHeap(env, heap, o[0], c.B * c.H * c.W * c.CI, "x") || !InHeap(env, heap, o[1], c.Kc() * c.CO, "the filter") ||
      !InHeap(env, heap, o[2], total * c.CO, "the output"))
    return env.Undefined();
  Epilogue epi;
  if (!GetEpilogue(info, 5, heap, total, c.CO, &epi)) return env.Undefined();
  const float* x = heap.data + o[0];
  const float* w = heap.data + o[1];
  float* y = heap.data + o[2];
  if (total == 0 || c.CO == 0) return env.Undefined();
  if (c.Kc() == 0) {
    std::memset(y, 0, sizeof(float) * total * c.CO);
    epi.Apply(y, 0, total, c.CO);
    return env.Undefined();
  }
  const int kc = static_cast<int>(c.Kc()), co = static_cast<int>(c.CO);
  const int64_t chunk = std::min(ChunkRows(c), total);
  const bool pointwise = c.Pointwise();
  float* col = pointwise ? nullptr : Scratch(static_cast<size_t>(chunk * c.Kc())).data();
  for (int64_t r0 = 0; r0 < total; r0 += chunk) {
    const int64_t rows = std::min(chunk, total - r0);
    const float* a = x + r0 * c.CI;  // pointwise: x rows are the patches
    if (!pointwise) {
      Im2col(c, x, r0, rows, col);
      a = col;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), co, kc, 1.0f, a, kc, w, co, 0.0f, y + r0 * c.CO, co);
    epi.Apply(y + r0 * c.CO, r0, rows, c.CO);
  }
  return env.Undefined();
}

// conv2dBackpropInput(heap, dyOffset, filterOffset, dxOffset, geometry): dx[B, H, W, CI].
Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  Conv c;
  int64_t o[3];
  if (!GetHeap(info, 0, &heap) || !GetInts(info, 1, 3, o) || !GetConv(info, 4, &c)) return env.Undefined();
  const int64_t total = c.B * c.Rows();
  if (!InHeap(env, heap, o[0], total * c.CO, "dy") || !InHeap(env, heap, o[1], c.Kc() * c.CO, "the filter") ||
      !InHeap(env, heap, o[2], c.B * c.H * c.W * c.CI, "dx"))
    return env.Undefined();
  const float* dy = heap.data + o[0];
  const float* w = heap.data + o[1];
  float* dx = heap.data + o[2];
  const int64_t dxSize = c.B * c.H * c.W * c.CI;
  if (dxSize == 0) return env.Undefined();
  if (total == 0 || c.CO == 0 || c.Kc() == 0) {
    std::memset(dx, 0, sizeof(float) * dxSize);
    return env.Undefined();
  }
  const int kc = static_cast<int>(c.Kc()), co = static_cast<int>(c.CO);
  if (c.Pointwise()) {
    // dx[rows, CI] = dy[rows, CO] x W[CI, CO]^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(total), kc, co, 1.0f, dy, co, w, co, 0.0f, dx, kc);
    return env.Undefined();
  }
  std::memset(dx, 0, sizeof(float) * dxSize);
  const int64_t chunk = std::min(ChunkRows(c), total);
  float* col = Scratch(static_cast<size_t>(chunk * c.Kc())).data();
  for (int64_t r0 = 0; r0 < total; r0 += chunk) {
    const int64_t rows = std::min(chunk, total - r0);
    // dcol[rows, Kc] = dy[rows, CO] x W[Kc, CO]^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), kc, co, 1.0f, dy + r0 * c.CO, co, w, co, 0.0f, col, kc);
    Col2im(c, col, r0, rows, dx);
  }
  return env.Undefined();
}

// conv2dBackpropFilter(heap, xOffset, dyOffset, dwOffset, geometry): dw[KH, KW, CI, CO].
Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  Conv c;
  int64_t o[3];
  if (!GetHeap(info, 0, &heap) || !GetInts(info, 1, 3, o) || !GetConv(info, 4, &c)) return env.Undefined();
  const int64_t total = c.B * c.Rows();
  if (!InHeap(env, heap, o[0], c.B * c.H * c.W * c.CI, "x") || !InHeap(env, heap, o[1], total * c.CO, "dy") ||
      !InHeap(env, heap, o[2], c.Kc() * c.CO, "dw"))
    return env.Undefined();
  const float* x = heap.data + o[0];
  const float* dy = heap.data + o[1];
  float* dw = heap.data + o[2];
  if (c.Kc() == 0 || c.CO == 0) return env.Undefined();
  if (total == 0) {
    std::memset(dw, 0, sizeof(float) * c.Kc() * c.CO);
    return env.Undefined();
  }
  const int kc = static_cast<int>(c.Kc()), co = static_cast<int>(c.CO);
  if (c.Pointwise()) {
    // dw[CI, CO] = x[rows, CI]^T x dy[rows, CO]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kc, co, static_cast<int>(total), 1.0f, x, kc, dy, co, 0.0f, dw, co);
    return env.Undefined();
  }
  // Larger chunks than the forward's: each chunk is one accumulating sgemm whose inner size is the
  // chunk's rows, and dw (Kc x CO) is read and written once per chunk.
  const int64_t chunk = std::min(std::max<int64_t>(ChunkRows(c), 4 * kChunkFloats / std::max<int64_t>(1, c.Kc())), total);
  float* col = Scratch(static_cast<size_t>(chunk * c.Kc())).data();
  for (int64_t r0 = 0; r0 < total; r0 += chunk) {
    const int64_t rows = std::min(chunk, total - r0);
    Im2col(c, x, r0, rows, col);
    // dw[Kc, CO] (+)= col[rows, Kc]^T x dy[rows, CO]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kc, co, static_cast<int>(rows), 1.0f, col, kc, dy + r0 * c.CO, co,
                r0 == 0 ? 0.0f : 1.0f, dw, co);
  }
  return env.Undefined();
}

// ---- optimizer updates ----------------------------------------------------------------------
// The update of one variable in one pass, for @kd/core's fused-update kernels (KdAdamUpdate,
// KdSgdUpdate, KdRmspropUpdate). Every operation is a float32 operation in the order of the
// plain-op form (built with -ffp-contract=off: no fused multiply-adds), so the results are bit
// for bit those of @kd/backend-wasm's kernels (JavaScript with Math.fround after every operation)
// and of the separate float32 kernels. Scalars arrive as float32 values, rounded by the caller.

/** Reads `count` element offsets from an Int32Array at info[i] (-1 = absent), each checked against the heap for n floats. */
bool GetOffsets(const Napi::CallbackInfo& info, size_t i, size_t count, const Heap& heap, int64_t n, float** out) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    return Fail(env, "the offsets must be an Int32Array");
  Napi::Int32Array offsets = info[i].As<Napi::Int32Array>();
  if (offsets.ElementLength() != count) return Fail(env, "expected " + std::to_string(count) + " offsets");
  for (size_t j = 0; j < count; j++) {
    const int64_t off = offsets[j];
    if (off == -1) {
      out[j] = nullptr;
      continue;
    }
    if (!InHeap(env, heap, off, n, "an optimizer operand")) return false;
    out[j] = heap.data + off;
  }
  return true;
}

bool GetFloats(const Napi::CallbackInfo& info, size_t from, size_t count, float* out) {
  for (size_t j = 0; j < count; j++) {
    if (info.Length() <= from + j || !info[from + j].IsNumber())
      return Fail(info.Env(), "argument " + std::to_string(from + j) + " must be a number");
    out[j] = info[from + j].As<Napi::Number>().FloatValue();
  }
  return true;
}

// The loops take their operands as restrict-qualified parameters (GCC ignores restrict on local
// pointers, and seven pointers are too many for its run-time alias checks: the loops stayed scalar,
// 5x slower), and branch only outside the loop, so each is vectorised. KD_VECTOR_CLONES adds an
// AVX2 copy chosen at load time on x86-64 Linux (the prebuilt binary still runs on any x86-64): the
// same IEEE float32 operations, 4 or 8 lanes at a time, so the same bits either way (no FMA: the
// addon is built with -ffp-contract=off).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KD_VECTOR_CLONES __attribute__((target_clones("avx2", "default"), noinline))
#else
#define KD_VECTOR_CLONES __attribute__((noinline))
#endif

/**
 * Adam's update: m, v, then w * keep - (m / (sqrt(v) / correction + epsilon)) * stepSize (keep:
 * AdamW's decoupled decay, 1 for Adam, where w * 1 is w exactly: one loop, the same bits).
 */
KD_VECTOR_CLONES void AdamLoop(const float* __restrict w, const float* __restrict g, const float* __restrict m0,
                               const float* __restrict v0, float* __restrict w1, float* __restrict m1, float* __restrict v1,
                               int64_t n, float b1, float c1, float b2, float c2, float eps, float size, float corr, float keep) {
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m0[i] * b1 + gi * c1;
    const float vi = v0[i] * b2 + (gi * gi) * c2;
    const float denominator = std::sqrt(vi) / corr + eps;
    m1[i] = mi;
    v1[i] = vi;
    w1[i] = w[i] * keep - (mi / denominator) * size;
  }
}

// adamUpdate(heap, offsets [w, g, m, v, outW, outM, outV], n, beta1, 1 - beta1, beta2, 1 - beta2,
//            epsilon, stepSize, correction, decay)
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t n;
  float* p[7];
  float a[8];
  if (!GetHeap(info, 0, &heap) || !GetInt(info, 2, &n) || !GetOffsets(info, 1, 7, heap, n, p) || !GetFloats(info, 3, 8, a))
    return env.Undefined();
  for (int j = 0; j < 7; j++)
    if (p[j] == nullptr) return Fail(env, "adamUpdate needs all seven operands"), env.Undefined();
  AdamLoop(p[0], p[1], p[2], p[3], p[4], p[5], p[6], n, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
  return env.Undefined();
}

/** SGD's update with weight decay wd (when > 0) and, when b0 is given, (Nesterov) momentum mu. */
KD_VECTOR_CLONES void SgdLoop(const float* __restrict w, const float* __restrict g, float* __restrict w1,
                              const float* __restrict b0, float* __restrict b1, int64_t n, float rate, float mu, bool nesterov,
                              float wd) {
  const bool decay = wd > 0;
  if (b0 == nullptr) {
    if (decay)
      for (int64_t i = 0; i < n; i++) w1[i] = w[i] - (g[i] + w[i] * wd) * rate;
    else
      for (int64_t i = 0; i < n; i++) w1[i] = w[i] - g[i] * rate;
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    const float gi = decay ? g[i] + w[i] * wd : g[i];
    const float next = b0[i] * mu + gi;
    b1[i] = next;
    w1[i] = w[i] - (nesterov ? gi + next * mu : next) * rate;
  }
}

// sgdUpdate(heap, offsets [w, g, outW, buffer | -1, outBuffer | -1], n, learningRate, momentum,
//           nesterov (0 | 1), weightDecay)
Napi::Value SgdUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t n;
  float* p[5];
  float a[4];
  if (!GetHeap(info, 0, &heap) || !GetInt(info, 2, &n) || !GetOffsets(info, 1, 5, heap, n, p) || !GetFloats(info, 3, 4, a))
    return env.Undefined();
  if (p[0] == nullptr || p[1] == nullptr || p[2] == nullptr || (p[3] == nullptr) != (p[4] == nullptr))
    return Fail(env, "sgdUpdate: bad operands"), env.Undefined();
  SgdLoop(p[0], p[1], p[2], p[3], p[4], n, a[0], a[1], a[2] != 0.0f, a[3]);
  return env.Undefined();
}

/** RMSprop's update: the running square s, then w - direction * rate, direction with momentum mu when b0 is given. */
KD_VECTOR_CLONES void RmspropLoop(const float* __restrict w, const float* __restrict g, const float* __restrict s0,
                                  float* __restrict w1, float* __restrict s1, const float* __restrict b0, float* __restrict b1,
                                  int64_t n, float rate, float rho, float q, float eps, float mu, float wd) {
  const bool decay = wd > 0;
  for (int64_t i = 0; i < n; i++) {
    const float gi = decay ? g[i] + w[i] * wd : g[i];
    const float si = s0[i] * rho + (gi * gi) * q;
    s1[i] = si;
    float direction = gi / (std::sqrt(si) + eps);
    if (b0 != nullptr) {
      direction = b0[i] * mu + direction;
      b1[i] = direction;
    }
    w1[i] = w[i] - direction * rate;
  }
}

// rmspropUpdate(heap, offsets [w, g, square, outW, outSquare, buffer | -1, outBuffer | -1], n,
//               learningRate, rho, 1 - rho, epsilon, momentum, weightDecay)
Napi::Value RmspropUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t n;
  float* p[7];
  float a[6];
  if (!GetHeap(info, 0, &heap) || !GetInt(info, 2, &n) || !GetOffsets(info, 1, 7, heap, n, p) || !GetFloats(info, 3, 6, a))
    return env.Undefined();
  for (int j = 0; j < 5; j++)
    if (p[j] == nullptr) return Fail(env, "rmspropUpdate: bad operands"), env.Undefined();
  if ((p[5] == nullptr) != (p[6] == nullptr)) return Fail(env, "rmspropUpdate: bad operands"), env.Undefined();
  RmspropLoop(p[0], p[1], p[2], p[3], p[4], p[5], p[6], n, a[0], a[1], a[2], a[3], a[4], a[5]);
  return env.Undefined();
}

// ---- element-wise binary ops ----------------------------------------------------------------

// binary(heap, op (0 add, 1 sub, 2 mul), mode, aOffset, bOffset, outOffset, rows, columns)
// out [rows, columns] = a op b, with mode 0: a and b [rows, columns]; 1: b one value; 2: b one per
// column [columns]; 3: a one value; 4: a one per column. One float32 operation per element, so the
// result is what any correct kernel computes, bit for bit.
template <int Op>
inline float Apply(float a, float b) {
  if (Op == 0) return a + b;
  if (Op == 1) return a - b;
  return a * b;
}

template <int Op>
void BinaryLoop(int mode, const float* __restrict a, const float* __restrict b, float* __restrict out, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  switch (mode) {
    case 0:
      for (int64_t i = 0; i < n; i++) out[i] = Apply<Op>(a[i], b[i]);
      break;
    case 1: {
      const float v = b[0];
      for (int64_t i = 0; i < n; i++) out[i] = Apply<Op>(a[i], v);
      break;
    }
    case 2:
      for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) out[r * cols + j] = Apply<Op>(a[r * cols + j], b[j]);
      break;
    case 3: {
      const float v = a[0];
      for (int64_t i = 0; i < n; i++) out[i] = Apply<Op>(v, b[i]);
      break;
    }
    default:
      for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) out[r * cols + j] = Apply<Op>(a[j], b[r * cols + j]);
      break;
  }
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t v[7];
  if (!GetHeap(info, 0, &heap) || !GetInts(info, 1, 7, v)) return env.Undefined();
  const int64_t op = v[0], mode = v[1], rows = v[5], cols = v[6];
  if (op < 0 || op > 2 || mode < 0 || mode > 4 || rows < 0 || cols < 0) return Fail(env, "binary: bad arguments"), env.Undefined();
  const int64_t n = rows * cols;
  const int64_t aSize = mode == 3 ? 1 : mode == 4 ? cols : n;
  const int64_t bSize = mode == 1 ? 1 : mode == 2 ? cols : n;
  if (!InHeap(env, heap, v[2], aSize, "a") || !InHeap(env, heap, v[3], bSize, "b") || !InHeap(env, heap, v[4], n, "the output"))
    return env.Undefined();
  const float* a = heap.data + v[2];
  const float* b = heap.data + v[3];
  float* out = heap.data + v[4];
  if (op == 0) BinaryLoop<0>(static_cast<int>(mode), a, b, out, rows, cols);
  else if (op == 1) BinaryLoop<1>(static_cast<int>(mode), a, b, out, rows, cols);
  else BinaryLoop<2>(static_cast<int>(mode), a, b, out, rows, cols);
  return env.Undefined();
}

// ---- sums over leading or trailing axes ----------------------------------------------------

// sum(heap, xOffset, outOffset, rows, columns, alongColumns): sums of the [rows, columns] matrix x.
// alongColumns 1: out[j] = sum over i of x[i, j], added in increasing i (the order of wasm's Sum
// after its transpose: the same float32 sums), one pass over x instead of a transpose and a pass,
// what a bias gradient over [batch, h, w, c] needs. 0: out[i] = sum over j of x[i, j], increasing j.
Napi::Value Sum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t v[5];
  if (!GetHeap(info, 0, &heap) || !GetInts(info, 1, 5, v)) return env.Undefined();
  const int64_t rows = v[2], cols = v[3];
  const bool alongColumns = v[4] != 0;
  if (rows < 0 || cols < 0) return Fail(env, "negative size"), env.Undefined();
  if (!InHeap(env, heap, v[0], rows * cols, "x") || !InHeap(env, heap, v[1], alongColumns ? cols : rows, "the output"))
    return env.Undefined();
  const float* __restrict x = heap.data + v[0];
  float* __restrict out = heap.data + v[1];
  if (alongColumns) {
    for (int64_t j = 0; j < cols; j++) out[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) out[j] += x[i * cols + j];
  } else {
    for (int64_t i = 0; i < rows; i++) {
      float sum = 0.0f;
      for (int64_t j = 0; j < cols; j++) sum += x[i * cols + j];
      out[i] = sum;
    }
  }
  return env.Undefined();
}

// ---- max-pool gradient -----------------------------------------------------------------------

// maxPoolGrad(heap, dyOffset, xOffset, yOffset, dxOffset, geometry Int32Array
//             [batch, h, w, c, oh, ow, sh, sw, kh, kw, dh, dw, pt, pl])
// 2-D NHWC: each dy goes to the first in-bounds tap of its window (row-major) whose value equals
// the pooled maximum y, as in tfjs' cpu backend and @kd/backend-wasm's kernel; contributions to an
// input element are added in the windows' row-major order, so the float32 sums are the same.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t o[4];
  if (!GetHeap(info, 0, &heap) || !GetInts(info, 1, 4, o)) return env.Undefined();
  if (info.Length() <= 5 || !info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[5].As<Napi::Int32Array>().ElementLength() != 14)
    return Fail(env, "maxPoolGrad: the geometry must be an Int32Array of 14"), env.Undefined();
  Napi::Int32Array gm = info[5].As<Napi::Int32Array>();
  int64_t g[14];
  for (int j = 0; j < 14; j++) g[j] = gm[j];
  const int64_t B = g[0], H = g[1], W = g[2], C = g[3], OH = g[4], OW = g[5], SH = g[6], SW = g[7], KH = g[8], KW = g[9],
                DH = g[10], DW = g[11], PT = g[12], PL = g[13];
  for (int j = 0; j < 14; j++)
    if (g[j] < 0 || (j >= 6 && j <= 11 && g[j] == 0)) return Fail(env, "maxPoolGrad: bad geometry"), env.Undefined();
  const int64_t inSize = B * H * W * C, outSize = B * OH * OW * C;
  if (!InHeap(env, heap, o[0], outSize, "dy") || !InHeap(env, heap, o[1], inSize, "x") || !InHeap(env, heap, o[2], outSize, "y") ||
      !InHeap(env, heap, o[3], inSize, "dx"))
    return env.Undefined();
  const float* dy = heap.data + o[0];
  const float* x = heap.data + o[1];
  const float* y = heap.data + o[2];
  float* dx = heap.data + o[3];
  std::memset(dx, 0, sizeof(float) * inSize);
  for (int64_t b = 0; b < B; b++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      const int64_t top = oy * SH - PT;
      for (int64_t ox = 0; ox < OW; ox++) {
        const int64_t left = ox * SW - PL;
        const int64_t out = ((b * OH + oy) * OW + ox) * C;
        const bool inside = top >= 0 && top + (KH - 1) * DH < H && left >= 0 && left + (KW - 1) * DW < W;
        if (inside) {
          // The window lies in the input: taps at fixed offsets from its first element.
          const int64_t base = ((b * H + top) * W + left) * C;
          const int64_t tapY = DH * W * C, tapX = DW * C;
          if (KH == 2 && KW == 2) {
            // Unrolled and without data-dependent branches (random data mispredicts them): the
            // first matching tap chosen by conditional moves.
            for (int64_t ch = 0; ch < C; ch++) {
              const float m = y[out + ch];
              const float* p = x + base + ch;
              const bool e0 = p[0] == m, e1 = p[tapX] == m, e2 = p[tapY] == m, e3 = p[tapY + tapX] == m;
              const int64_t at = e0 ? 0 : e1 ? tapX : e2 ? tapY : tapY + tapX;
              if (e0 | e1 | e2 | e3) dx[base + ch + at] += dy[out + ch];
            }
            continue;
          }
          for (int64_t ch = 0; ch < C; ch++) {
            const float m = y[out + ch];
            const float* start = x + base + ch;
            int64_t found = -1;
            for (int64_t fy = 0; fy < KH && found < 0; fy++) {
              const float* row = start + fy * tapY;
              for (int64_t fx = 0; fx < KW; fx++) {
                if (row[fx * tapX] == m) {
                  found = base + ch + fy * tapY + fx * tapX;
                  break;
                }
              }
            }
            if (found >= 0) dx[found] += dy[out + ch];
          }
          continue;
        }
        for (int64_t ch = 0; ch < C; ch++) {
          const float m = y[out + ch];
          int64_t found = -1;
          for (int64_t fy = 0; fy < KH && found < 0; fy++) {
            const int64_t iy = top + fy * DH;
            if (!inside && (iy < 0 || iy >= H)) continue;
            for (int64_t fx = 0; fx < KW; fx++) {
              const int64_t ix = left + fx * DW;
              if (!inside && (ix < 0 || ix >= W)) continue;
              const int64_t a = ((b * H + iy) * W + ix) * C + ch;
              if (x[a] == m) {
                found = a;
                break;
              }
            }
          }
          if (found >= 0) dx[found] += dy[out + ch];
        }
      }
    }
  }
  return env.Undefined();
}

// ---- fused losses ---------------------------------------------------------------------------
// @kd/core's loss kernels (KdLogSoftmax, KdSoftTargetLoss, KdSoftTargetLossGrad, KdHardLabelLoss,
// KdHardLabelLossGrad) on [batch, classes] logits, the operations of @kd/backend-wasm's kernels of
// the same names in the same order: row maxima, sums and log-sum-exps in double precision, each
// output rounded to float32 once. The two differ only where the C library's exp or log and
// JavaScript's Math.exp or Math.log round a double differently (rarely, and then by an ulp of the
// double, which the float32 rounding almost always hides).

/** Row z[0 .. classes) * scale's log-sum-exp in double (Math.max semantics: a NaN wins). */
inline double LogSumExp(const float* z, int64_t classes, double scale) {
  double max = -INFINITY;
  for (int64_t c = 0; c < classes; c++) {
    const double v = static_cast<double>(z[c]) * scale;
    if (std::isnan(v) || v > max) max = v;
    if (std::isnan(max)) break;
  }
  if (!std::isfinite(max)) return max;
  double sum = 0;
  for (int64_t c = 0; c < classes; c++) sum += std::exp(static_cast<double>(z[c]) * scale - max);
  return max + std::log(sum);
}

/** The labels of a hard-label loss: int32 class indices [batch] (mode 0), float32 indices [batch] (1) or float32 targets [batch, classes] (2). */
struct Labels {
  const float* floats = nullptr;
  const int32_t* ints = nullptr;
  int mode = 0;
  int64_t classes = 0;

  double At(int64_t b, int64_t c) const {
    if (mode == 0) return ints[b] == c ? 1.0 : 0.0;
    if (mode == 1) return static_cast<double>(floats[b]) == static_cast<double>(c) ? 1.0 : 0.0;
    return static_cast<double>(floats[b * classes + c]);
  }
};

/** Reads [batch, classes] and the heap at info[0..2]; false (with an exception) when they are bad. */
bool GetRows(const Napi::CallbackInfo& info, size_t i, Heap* heap, int64_t* batch, int64_t* classes) {
  if (!GetHeap(info, 0, heap) || !GetInt(info, i, batch) || !GetInt(info, i + 1, classes)) return false;
  if (*batch < 0 || *classes < 0) return Fail(info.Env(), "negative size");
  return true;
}

bool GetDouble(const Napi::CallbackInfo& info, size_t i, double* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return Fail(info.Env(), "argument " + std::to_string(i) + " must be a number");
  *out = info[i].As<Napi::Number>().DoubleValue();
  return true;
}

// logSoftmax(heap, zOffset, outOffset, batch, classes, temperature): out = z / T - logSumExp(z / T) per row.
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t off[2], batch, classes;
  double temperature;
  if (!GetInts(info, 1, 2, off) || !GetRows(info, 3, &heap, &batch, &classes) || !GetDouble(info, 5, &temperature)) return env.Undefined();
  const int64_t n = batch * classes;
  if (!InHeap(env, heap, off[0], n, "the logits") || !InHeap(env, heap, off[1], n, "the output")) return env.Undefined();
  const float* z = heap.data + off[0];
  float* y = heap.data + off[1];
  const double scale = 1 / temperature;
  for (int64_t b = 0; b < batch; b++) {
    const float* row = z + b * classes;
    const double lse = LogSumExp(row, classes, scale);
    for (int64_t c = 0; c < classes; c++) y[b * classes + c] = static_cast<float>(static_cast<double>(row[c]) * scale - lse);
  }
  return env.Undefined();
}

// softTargetLoss(heap, zOffset, logPOffset, outOffset, batch, classes, temperature, kl (0 | 1)):
// T^2 / batch * sum over rows of KL(p || softmax(z / T)) (kl 1) or cross-entropy -p . log softmax(z / T), p = exp(logP).
Napi::Value SoftTargetLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t off[3], batch, classes, kl;
  double temperature;
  if (!GetInts(info, 1, 3, off) || !GetRows(info, 4, &heap, &batch, &classes) || !GetDouble(info, 6, &temperature) || !GetInt(info, 7, &kl))
    return env.Undefined();
  const int64_t n = batch * classes;
  if (!InHeap(env, heap, off[0], n, "the logits") || !InHeap(env, heap, off[1], n, "logP") || !InHeap(env, heap, off[2], 1, "the output"))
    return env.Undefined();
  const float* z = heap.data + off[0];
  const float* lp = heap.data + off[1];
  const double scale = 1 / temperature;
  double total = 0;
  for (int64_t b = 0; b < batch; b++) {
    const double lse = LogSumExp(z + b * classes, classes, scale);
    double row = 0;
    for (int64_t c = 0; c < classes; c++) {
      const int64_t i = b * classes + c;
      const double logQ = static_cast<double>(z[i]) * scale - lse;
      const double l = static_cast<double>(lp[i]);
      const double p = std::exp(l);
      row += kl != 0 ? p * (l - logQ) : -p * logQ;
    }
    total += row;
  }
  heap.data[off[2]] = static_cast<float>((total * temperature * temperature) / static_cast<double>(batch));
  return env.Undefined();
}

// softTargetLossGrad(heap, zOffset, logPOffset, dyOffset, outOffset, batch, classes, temperature):
// d loss / d z = dy * T / batch * (softmax(z / T) * sum(p) - p), per row.
Napi::Value SoftTargetLossGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t off[4], batch, classes;
  double temperature;
  if (!GetInts(info, 1, 4, off) || !GetRows(info, 5, &heap, &batch, &classes) || !GetDouble(info, 7, &temperature)) return env.Undefined();
  const int64_t n = batch * classes;
  if (!InHeap(env, heap, off[0], n, "the logits") || !InHeap(env, heap, off[1], n, "logP") || !InHeap(env, heap, off[2], 1, "dy") ||
      !InHeap(env, heap, off[3], n, "the output"))
    return env.Undefined();
  const float* z = heap.data + off[0];
  const float* lp = heap.data + off[1];
  float* dz = heap.data + off[3];
  const double scale = 1 / temperature;
  const double factor = (static_cast<double>(heap.data[off[2]]) * temperature) / static_cast<double>(batch);
  std::vector<double> p(static_cast<size_t>(classes));  // exp(logP) of the row, computed once
  for (int64_t b = 0; b < batch; b++) {
    const double lse = LogSumExp(z + b * classes, classes, scale);
    double sumP = 0;
    for (int64_t c = 0; c < classes; c++) {
      p[static_cast<size_t>(c)] = std::exp(static_cast<double>(lp[b * classes + c]));
      sumP += p[static_cast<size_t>(c)];
    }
    for (int64_t c = 0; c < classes; c++) {
      const int64_t i = b * classes + c;
      dz[i] = static_cast<float>(factor * (std::exp(static_cast<double>(z[i]) * scale - lse) * sumP - p[static_cast<size_t>(c)]));
    }
  }
  return env.Undefined();
}

/** The labels at off (mode as in Labels), checked against the heap. */
bool GetLabels(const Napi::Env& env, const Heap& heap, int64_t off, int64_t mode, int64_t batch, int64_t classes, Labels* labels) {
  if (mode < 0 || mode > 2) return Fail(env, "bad label mode");
  if (!InHeap(env, heap, off, mode == 2 ? batch * classes : batch, "the labels")) return false;
  labels->mode = static_cast<int>(mode);
  labels->classes = classes;
  labels->floats = heap.data + off;
  labels->ints = reinterpret_cast<const int32_t*>(heap.data + off);
  return true;
}

// hardLabelLoss(heap, zOffset, labelsOffset, outOffset, batch, classes, labelMode): -1 / batch * sum of y . log softmax(z).
Napi::Value HardLabelLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t off[3], batch, classes, mode;
  Labels y;
  if (!GetInts(info, 1, 3, off) || !GetRows(info, 4, &heap, &batch, &classes) || !GetInt(info, 6, &mode)) return env.Undefined();
  if (!InHeap(env, heap, off[0], batch * classes, "the logits") || !GetLabels(env, heap, off[1], mode, batch, classes, &y) ||
      !InHeap(env, heap, off[2], 1, "the output"))
    return env.Undefined();
  const float* z = heap.data + off[0];
  double total = 0;
  for (int64_t b = 0; b < batch; b++) {
    const double lse = LogSumExp(z + b * classes, classes, 1.0);
    for (int64_t c = 0; c < classes; c++) {
      const double t = y.At(b, c);
      if (t != 0) total += t * (static_cast<double>(z[b * classes + c]) - lse);
    }
  }
  heap.data[off[2]] = static_cast<float>(-total / static_cast<double>(batch));
  return env.Undefined();
}

// hardLabelLossGrad(heap, zOffset, labelsOffset, dyOffset, outOffset, batch, classes, labelMode):
// dy / batch * (softmax(z) * sum(y) - y), per row.
Napi::Value HardLabelLossGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Heap heap;
  int64_t off[4], batch, classes, mode;
  Labels y;
  if (!GetInts(info, 1, 4, off) || !GetRows(info, 5, &heap, &batch, &classes) || !GetInt(info, 7, &mode)) return env.Undefined();
  const int64_t n = batch * classes;
  if (!InHeap(env, heap, off[0], n, "the logits") || !GetLabels(env, heap, off[1], mode, batch, classes, &y) ||
      !InHeap(env, heap, off[2], 1, "dy") || !InHeap(env, heap, off[3], n, "the output"))
    return env.Undefined();
  const float* z = heap.data + off[0];
  float* dz = heap.data + off[3];
  const double factor = static_cast<double>(heap.data[off[2]]) / static_cast<double>(batch);
  for (int64_t b = 0; b < batch; b++) {
    const double lse = LogSumExp(z + b * classes, classes, 1.0);
    double sumY = 0;
    for (int64_t c = 0; c < classes; c++) sumY += y.At(b, c);
    for (int64_t c = 0; c < classes; c++) {
      const int64_t i = b * classes + c;
      dz[i] = static_cast<float>(factor * (std::exp(static_cast<double>(z[i]) - lse) * sumY - y.At(b, c)));
    }
  }
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("epilogue", Napi::Function::New(env, EpilogueCall, "epilogue"));
  exports.Set("conv2d", Napi::Function::New(env, Conv2d, "conv2d"));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2dBackpropInput, "conv2dBackpropInput"));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2dBackpropFilter, "conv2dBackpropFilter"));
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("sum", Napi::Function::New(env, Sum, "sum"));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad, "maxPoolGrad"));
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate, "adamUpdate"));
  exports.Set("sgdUpdate", Napi::Function::New(env, SgdUpdate, "sgdUpdate"));
  exports.Set("rmspropUpdate", Napi::Function::New(env, RmspropUpdate, "rmspropUpdate"));
  exports.Set("logSoftmax", Napi::Function::New(env, LogSoftmax, "logSoftmax"));
  exports.Set("softTargetLoss", Napi::Function::New(env, SoftTargetLoss, "softTargetLoss"));
  exports.Set("softTargetLossGrad", Napi::Function::New(env, SoftTargetLossGrad, "softTargetLossGrad"));
  exports.Set("hardLabelLoss", Napi::Function::New(env, HardLabelLoss, "hardLabelLoss"));
  exports.Set("hardLabelLossGrad", Napi::Function::New(env, HardLabelLossGrad, "hardLabelLossGrad"));
  return exports;
}

}  // namespace

NODE_API_MODULE(kd_native, Init)
