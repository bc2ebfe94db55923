{
  "targets": [
    {
      "target_name": "riverhead_srt",
      "sources": ["srt_binding.c"],
      "libraries": ["-lsrt", "-lcrypto", "-lpthread"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
