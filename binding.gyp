{
  "targets": [{
    "target_name": "odc_torch",
    "sources": [
      "native/addon.cc",
      "native/handle.cc",
      "native/dispatch.cc",
      "native/tensor_io.cc",
      "native/autograd.cc",
      "native/runtime.cc",
      "native/host_read.cc",
      "native/distributed.cc",
      "native/data_parallel.cc"
    ],
    "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"],
    "include_dirs": ["<!@(node scripts/torch-config.cjs include)"],
    "defines": ["NAPI_VERSION=8", "<!@(node scripts/torch-config.cjs defines)"],
    "libraries": ["<!@(node scripts/torch-config.cjs libs)"],
    "ldflags": ["<!@(node scripts/torch-config.cjs ldflags)"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-O2", "-Wno-unused-parameter", "-Wno-unused-variable"]
  }, {
    "target_name": "odc_image",
    "sources": ["native/image_addon.cc", "native/image_jpeg.cc", "native/image_augment.cc"],
    "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"],
    "defines": ["NAPI_VERSION=8"],
    "libraries": ["-ljpeg"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-O3", "-Wno-unused-parameter"]
  }]
}
