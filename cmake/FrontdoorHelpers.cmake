# One helper per target kind: warnings, sanitizers, include root and ctest
# registration live here and nowhere else.

set(FRONTDOOR_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND FRONTDOOR_WARNINGS -Wthread-safety)
endif()

set(FRONTDOOR_SANITIZE_FLAGS)
if(FRONTDOOR_SANITIZE STREQUAL "address")
  set(FRONTDOOR_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
elseif(FRONTDOOR_SANITIZE STREQUAL "thread")
  set(FRONTDOOR_SANITIZE_FLAGS -fsanitize=thread)
endif()
if(FRONTDOOR_SANITIZE_FLAGS)
  # Sanitizer builds are for running the tests: at the default build type,
  # -O1 with line tables only compiles in about 55% of the time of -O2 -g
  # (referral_service.cc: 14 s against 26 s), and reports still name
  # file:line. These come after the build type's flags, so they win.
  if(CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo")
    add_compile_options(-O1 -g1)
  endif()
  add_compile_options(${FRONTDOOR_SANITIZE_FLAGS})
  add_link_options(${FRONTDOOR_SANITIZE_FLAGS})
endif()
if(FRONTDOOR_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# frontdoor_cc_library(NAME SRCS ... DEPS ...)
function(frontdoor_cc_library NAME)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_library(${NAME} STATIC ${A_SRCS})
  target_include_directories(${NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${NAME} PRIVATE ${FRONTDOOR_WARNINGS})
  target_link_libraries(${NAME} PUBLIC ${A_DEPS})
endfunction()

# frontdoor_cc_binary(NAME SRCS ... DEPS ...)
function(frontdoor_cc_binary NAME)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${NAME} ${A_SRCS})
  target_include_directories(${NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${NAME} PRIVATE ${FRONTDOOR_WARNINGS})
  target_link_libraries(${NAME} PRIVATE ${A_DEPS})
endfunction()

# frontdoor_link_jemalloc(TARGET): links a server-like binary with jemalloc.
# Its processes build and free many small protobuf objects on several
# threads, where glibc's malloc took about a third of the CPU. Not with
# sanitizers or fuzzing, which bring their own allocator.
function(frontdoor_link_jemalloc NAME)
  if(NOT FRONTDOOR_SANITIZE AND NOT FRONTDOOR_FUZZ)
    find_library(JEMALLOC_LIBRARY NAMES jemalloc REQUIRED)
    target_link_libraries(${NAME} PRIVATE ${JEMALLOC_LIBRARY})
  endif()
endfunction()

# frontdoor_cc_test(NAME SRCS ... DEPS ...): a gtest binary registered with ctest.
# Tests run with the source tree as working directory, so they can read
# triage-rules/ and testdata by relative path.
function(frontdoor_cc_test NAME)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  frontdoor_cc_binary(${NAME} SRCS ${A_SRCS} DEPS ${A_DEPS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${NAME} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} DISCOVERY_TIMEOUT 60)
endfunction()

# frontdoor_cc_fuzz(NAME SRCS ... DEPS ...): a libFuzzer target (clang only).
function(frontdoor_cc_fuzz NAME)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  if(FRONTDOOR_FUZZ)
    frontdoor_cc_binary(${NAME} SRCS ${A_SRCS} DEPS ${A_DEPS})
    target_link_options(${NAME} PRIVATE -fsanitize=fuzzer)
  endif()
endfunction()

# frontdoor_cc_benchmark(NAME SRCS ... DEPS ...)
function(frontdoor_cc_benchmark NAME)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  if(FRONTDOOR_BENCHMARKS)
    frontdoor_cc_binary(${NAME} SRCS ${A_SRCS} DEPS ${A_DEPS} benchmark::benchmark)
  endif()
endfunction()
