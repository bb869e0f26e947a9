// The operators the firmware can run. microlite's binding (openmv-libtf.cpp, patched by
// patches/microlite-3-*.patch) builds one static smartbin::OpsResolver instead of its
// all-operators resolver, so the linker drops every other kernel and the image stays
// inside its flash partition. The header has a name of its own: the binding's
// python_ops_resolver.h sits beside openmv-libtf.cpp and would win an #include "..." of
// the same name.
// A model with another op fails at load with "Didn't find op for builtin opcode":
// add the op to ops_resolver.cpp (tests/firmware_image checks the default model).
#ifndef SMARTBIN_OPS_RESOLVER_H_
#define SMARTBIN_OPS_RESOLVER_H_

#include "tensorflow/lite/micro/compatibility.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace smartbin {

// Room for every Add*() call in ops_resolver.cpp (AddXxx() fails past this count).
constexpr unsigned int kOpCapacity = 32;

class OpsResolver : public tflite::MicroMutableOpResolver<kOpCapacity> {
 public:
  OpsResolver();

 private:
  TF_LITE_REMOVE_VIRTUAL_DELETE
};

}  // namespace smartbin

#endif  // SMARTBIN_OPS_RESOLVER_H_
