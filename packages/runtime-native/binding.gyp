{
  "targets": [
    {
      "target_name": "dnnl_conv",
      "sources": ["src/dnnl_conv.cc"],
      "cflags_cc": ["-O2", "-std=c++17", "-fopenmp", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
