# Runs `patternnet selfcheck` with PN_ISA set and checks the exit code and the messages together
# (a PASS_REGULAR_EXPRESSION test alone would ignore the exit code, WILL_FAIL alone the message).
#
#   cmake -DEXE=<patternnet> -DISA=<value of PN_ISA> -DEXPECT=<success|failure|auto>
#         [-DSTDERR_REGEX=<regex stderr must match>] -P check_cli.cmake
#
# success: exit 0 and "active kernel table: <ISA>".
# failure: exit code 1 (not a crash) and a "patternnet: error:" line on stderr naming PN_ISA or
#          the instruction set; the self-check must not have run.
# auto:    whatever this CPU and build can do. The run prints which instruction sets are supported
#          before choosing; if <ISA> is listed as "=yes", expect success, otherwise failure.
foreach(var EXE ISA EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_cli.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(
  COMMAND ${CMAKE_COMMAND} -E env "PN_ISA=${ISA}" "${EXE}" selfcheck --size 64 --repeat 1
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
message(STATUS "exit: ${rc}\n--- stdout ---\n${out}--- stderr ---\n${err}")

set(expect "${EXPECT}")
if(expect STREQUAL "auto")
  if(out MATCHES "${ISA}=yes")
    set(expect success)
  elseif(out MATCHES "${ISA}=no")
    set(expect failure)
  else()
    message(FATAL_ERROR "the self-check did not report whether ${ISA} is supported")
  endif()
  message(STATUS "${ISA} supported here: expecting ${expect}")
endif()

if(expect STREQUAL "success")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "PN_ISA=${ISA}: expected success, got exit code '${rc}'")
  endif()
  if(NOT out MATCHES "active kernel table: ${ISA}")
    message(FATAL_ERROR "PN_ISA=${ISA}: the active table is not ${ISA}")
  endif()
  if(NOT out MATCHES " ok\n")
    message(FATAL_ERROR "PN_ISA=${ISA}: the gemm self-check did not report ok")
  endif()
elseif(expect STREQUAL "failure")
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "PN_ISA=${ISA}: expected a clean failure (exit code 1), got '${rc}'")
  endif()
  if(NOT err MATCHES "patternnet: error: [^\n]*(PN_ISA|${ISA})")
    message(FATAL_ERROR "PN_ISA=${ISA}: stderr does not explain the failure with PN_ISA or the instruction set")
  endif()
  if(DEFINED STDERR_REGEX AND NOT err MATCHES "${STDERR_REGEX}")
    message(FATAL_ERROR "PN_ISA=${ISA}: stderr does not match '${STDERR_REGEX}'")
  endif()
  if(out MATCHES "sgemm")
    message(FATAL_ERROR "PN_ISA=${ISA}: the self-check ran despite the error")
  endif()
else()
  message(FATAL_ERROR "check_cli.cmake: EXPECT must be success, failure or auto")
endif()
