# Runs one `patternnet` command line and checks exit code, messages and output files together.
#
#   cmake -DCMD="<exe>|<arg>|..." -DEXPECT_RC=<0|1|nonzero> [-DSTDOUT_REGEX=...] [-DSTDERR_REGEX=...]
#         [-DMUST_EXIST=<file>] [-DMUST_NOT_EXIST=<file>] [-DKEEP_FILE=<file>]
#         [-DWRITE_FILE=<file> -DWRITE_HEX=<hex bytes>] -P run_cli.cmake
#
# WRITE_FILE is created first (from hex, so tests can feed truncated or corrupt binaries);
# MUST_NOT_EXIST is removed first, so a leftover from an earlier run cannot satisfy the check.
# KEEP_FILE is an output file that already exists: it is written with a sentinel first and must
# hold exactly that sentinel afterwards (a failing command must not overwrite or truncate it).
foreach(var CMD EXPECT_RC)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_cli.cmake: -D${var}=... is required")
  endif()
endforeach()
if(DEFINED WRITE_FILE)
  get_filename_component(dir "${WRITE_FILE}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${WRITE_FILE}" "")
  if(DEFINED WRITE_HEX AND NOT WRITE_HEX STREQUAL "")
    string(REGEX REPLACE "([0-9a-fA-F][0-9a-fA-F])" "\\\\x\\1" escaped "${WRITE_HEX}")
    # file(WRITE) cannot write arbitrary bytes from a string; go through a helper that can.
    execute_process(COMMAND printf "${escaped}" OUTPUT_FILE "${WRITE_FILE}")
  endif()
endif()
if(DEFINED MUST_NOT_EXIST)
  file(REMOVE "${MUST_NOT_EXIST}")
  get_filename_component(dir "${MUST_NOT_EXIST}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
endif()

if(DEFINED KEEP_FILE)
  get_filename_component(dir "${KEEP_FILE}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
  set(sentinel "an earlier result that a failing command must leave alone: ${KEEP_FILE}\n")
  file(WRITE "${KEEP_FILE}" "${sentinel}")
endif()

string(REPLACE "|" ";" CMD "${CMD}")
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "command: ${CMD}\nexit: ${rc}\n--- stdout ---\n${out}--- stderr ---\n${err}")

if(EXPECT_RC STREQUAL "nonzero")
  if(rc EQUAL 0 OR NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "expected a clean non-zero exit, got '${rc}'")
  endif()
elseif(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "expected exit code ${EXPECT_RC}, got '${rc}'")
endif()
if(DEFINED STDOUT_REGEX AND NOT out MATCHES "${STDOUT_REGEX}")
  message(FATAL_ERROR "stdout does not match '${STDOUT_REGEX}'")
endif()
if(DEFINED STDERR_REGEX AND NOT err MATCHES "${STDERR_REGEX}")
  message(FATAL_ERROR "stderr does not match '${STDERR_REGEX}'")
endif()
if(DEFINED MUST_EXIST AND NOT EXISTS "${MUST_EXIST}")
  message(FATAL_ERROR "expected output file '${MUST_EXIST}' was not written")
endif()
if(DEFINED KEEP_FILE)
  if(NOT EXISTS "${KEEP_FILE}")
    message(FATAL_ERROR "'${KEEP_FILE}' was removed although the command failed")
  endif()
  file(READ "${KEEP_FILE}" kept)
  if(NOT kept STREQUAL sentinel)
    message(FATAL_ERROR "'${KEEP_FILE}' was overwritten although the command failed")
  endif()
  set(MUST_NOT_EXIST_DIR "${KEEP_FILE}")
endif()
if(DEFINED MUST_NOT_EXIST)
  set(MUST_NOT_EXIST_DIR "${MUST_NOT_EXIST}")
  if(EXISTS "${MUST_NOT_EXIST}")
    message(FATAL_ERROR "'${MUST_NOT_EXIST}' exists although the command failed")
  endif()
endif()
if(DEFINED MUST_NOT_EXIST_DIR)
  # Only this command's own temporaries count: other tests write into the same directory at the
  # same time, and their files in flight are not ours. Outputs may grow a suffix before the
  # extension (heatmap.png -> heatmap_0.png), so the glob keys on the stem.
  get_filename_component(dir "${MUST_NOT_EXIST_DIR}" DIRECTORY)
  get_filename_component(stem "${MUST_NOT_EXIST_DIR}" NAME_WE)
  file(GLOB leftovers "${dir}/${stem}*.tmp.*")
  if(leftovers)
    message(FATAL_ERROR "temporary files left behind: ${leftovers}")
  endif()
endif()
