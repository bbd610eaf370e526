// Winograd F(2x2, 3x3) tile transforms written against the Vec interface; included inside an ISA
// namespace (see gemm.inl for why no standard header may appear here). One vector holds the same
// element of Vec::width neighbouring tiles, so the transforms are the scalar reference's
// additions done width tiles at a time, in the same order (results are bit-identical to it); the
// tail runs the reference's expressions on single tiles.

inline void winograd_input(const float* const* e, const float* const* o, std::int64_t tiles, float* v,
                           std::int64_t v_stride) {
  std::int64_t t = 0;
  for (; t + Vec::width <= tiles; t += Vec::width) {
    Vec d[4][4];
    for (int r = 0; r < 4; ++r) {
      d[r][0] = Vec::loadu(e[r] + t);
      d[r][1] = Vec::loadu(o[r] + t);
      d[r][2] = Vec::loadu(e[r] + t + 1);
      d[r][3] = Vec::loadu(o[r] + t + 1);
    }
    for (int i = 0; i < 4; ++i) {
      Vec b[4];  // row i of Bᵀ d
      for (int c = 0; c < 4; ++c) {
        switch (i) {
          case 0: b[c] = d[0][c] - d[2][c]; break;
          case 1: b[c] = d[1][c] + d[2][c]; break;
          case 2: b[c] = d[2][c] - d[1][c]; break;
          default: b[c] = d[1][c] - d[3][c]; break;
        }
      }
      (b[0] - b[2]).storeu(v + (i * 4 + 0) * v_stride + t);
      (b[1] + b[2]).storeu(v + (i * 4 + 1) * v_stride + t);
      (b[2] - b[1]).storeu(v + (i * 4 + 2) * v_stride + t);
      (b[1] - b[3]).storeu(v + (i * 4 + 3) * v_stride + t);
    }
  }
  for (; t < tiles; ++t) {
    float d[4][4];
    for (int r = 0; r < 4; ++r) {
      d[r][0] = e[r][t];
      d[r][1] = o[r][t];
      d[r][2] = e[r][t + 1];
      d[r][3] = o[r][t + 1];
    }
    float b[4][4];
    for (int c = 0; c < 4; ++c) {
      b[0][c] = d[0][c] - d[2][c];
      b[1][c] = d[1][c] + d[2][c];
      b[2][c] = d[2][c] - d[1][c];
      b[3][c] = d[1][c] - d[3][c];
    }
    for (int i = 0; i < 4; ++i) {
      v[(i * 4 + 0) * v_stride + t] = b[i][0] - b[i][2];
      v[(i * 4 + 1) * v_stride + t] = b[i][1] + b[i][2];
      v[(i * 4 + 2) * v_stride + t] = b[i][2] - b[i][1];
      v[(i * 4 + 3) * v_stride + t] = b[i][1] - b[i][3];
    }
  }
}

inline void winograd_output(const float* m, std::int64_t m_stride, std::int64_t tiles, float* y00, float* y01,
                            float* y10, float* y11) {
  std::int64_t t = 0;
  for (; t + Vec::width <= tiles; t += Vec::width) {
    Vec s0[4], s1[4];  // rows 0 and 1 of Aᵀ M
    for (int j = 0; j < 4; ++j) {
      const Vec m0 = Vec::loadu(m + j * m_stride + t), m1 = Vec::loadu(m + (4 + j) * m_stride + t);
      const Vec m2 = Vec::loadu(m + (8 + j) * m_stride + t), m3 = Vec::loadu(m + (12 + j) * m_stride + t);
      s0[j] = m0 + m1 + m2;
      s1[j] = m1 - m2 - m3;
    }
    (s0[0] + s0[1] + s0[2]).storeu(y00 + t);
    (s0[1] - s0[2] - s0[3]).storeu(y01 + t);
    (s1[0] + s1[1] + s1[2]).storeu(y10 + t);
    (s1[1] - s1[2] - s1[3]).storeu(y11 + t);
  }
  for (; t < tiles; ++t) {
    float s[2][4];
    for (int j = 0; j < 4; ++j) {
      const float m0 = m[j * m_stride + t], m1 = m[(4 + j) * m_stride + t];
      const float m2 = m[(8 + j) * m_stride + t], m3 = m[(12 + j) * m_stride + t];
      s[0][j] = m0 + m1 + m2;
      s[1][j] = m1 - m2 - m3;
    }
    y00[t] = s[0][0] + s[0][1] + s[0][2];
    y01[t] = s[0][1] - s[0][2] - s[0][3];
    y10[t] = s[1][0] + s[1][1] + s[1][2];
    y11[t] = s[1][1] - s[1][2] - s[1][3];
  }
}
