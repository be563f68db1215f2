{
  "targets": [
    {
      "target_name": "kd_native",
      "sources": ["kd_native.cc"],
      "include_dirs": ["<!(node -p \"require('path').dirname(require.resolve('node-addon-api/package.json'))\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-ffp-contract=off", "-fno-math-errno"],
      "cflags_cc!": ["-fno-rtti"],
      "libraries": ["-lopenblas"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "NO", "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-math-errno"] },
          "include_dirs": ["/opt/homebrew/opt/openblas/include", "/usr/local/opt/openblas/include"],
          "libraries": ["-L/opt/homebrew/opt/openblas/lib", "-L/usr/local/opt/openblas/lib"]
        }]
      ]
    }
  ]
}
