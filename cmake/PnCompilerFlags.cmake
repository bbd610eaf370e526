# Project-wide warnings, sanitizers and the per-ISA flags of the kernel translation units.

add_library(pn_warnings INTERFACE)
target_compile_options(pn_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                       -Wno-sign-conversion)
if(PN_WERROR)
  target_compile_options(pn_warnings INTERFACE -Werror)
endif()

if(PN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Flags for the translation units of each instruction set. Only these files get
# them: the rest of the program must run on any x86-64 CPU, and the dispatcher
# picks the best kernel table at run time.
set(PN_FLAGS_AVX2 -mavx2 -mfma -mf16c)
# GCC 12's own avx512fintrin.h trips -W(maybe-)uninitialized on the _mm512_undefined_*() it
# passes as masked-off sources (a false positive in the header), so those two warnings are off for
# the AVX-512 unit only.
set(PN_FLAGS_AVX512 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c -Wno-maybe-uninitialized
    -Wno-uninitialized)

# pn_isa_sources(<target> <isa> <files...>) attaches one ISA's flags to its files.
function(pn_isa_sources target isa)
  set(flags ${PN_FLAGS_${isa}})
  foreach(f IN LISTS ARGN)
    target_sources(${target} PRIVATE ${f})
    set_source_files_properties(${f} TARGET_DIRECTORY ${target} PROPERTIES COMPILE_OPTIONS "${flags}")
  endforeach()
endfunction()
