# The bad-input suite (issue 8): the patternnet program run on hostile or mistaken inputs. Every
# test asserts the exit code, a message that names the problem (and the file or flag), and that
# the output the command was asked to write was neither created nor, when it already existed,
# overwritten. make_bad_inputs writes the files (a random-weight mlp, its patterns, an input batch,
# and one hostile variant of each); the tests need neither Fashion-MNIST nor a trained model.
# Label: bad_input (and ch02 for files and data, ch04 for explain's flags, ch05 for patterns).
set(bad_dir ${CMAKE_CURRENT_BINARY_DIR}/bad_input)
add_executable(make_bad_inputs ${CMAKE_CURRENT_SOURCE_DIR}/bad_input/make_bad_inputs.cpp)
target_link_libraries(make_bad_inputs PRIVATE pn ZLIB::ZLIB pn_warnings)
add_test(NAME bad_input_files COMMAND ${CMAKE_COMMAND} -E rm -rf ${bad_dir})
add_test(NAME bad_input_make_files COMMAND make_bad_inputs ${bad_dir})
set_tests_properties(bad_input_files PROPERTIES LABELS bad_input FIXTURES_SETUP bad_input_clean)
set_tests_properties(bad_input_make_files PROPERTIES LABELS bad_input FIXTURES_SETUP bad_input_files
                     FIXTURES_REQUIRED bad_input_clean)

# pn_bad_input(<name> LABEL <chNN> MESSAGE <regex> [KEEP] OUTPUT <path> ARGS <args...> [RC <rc>])
# The command must exit with RC (default 1) and print MESSAGE on stderr. OUTPUT is the file the
# command would write: absent before and after, or, with KEEP, present before with a sentinel that
# must be intact afterwards.
set(pn_bad_input_count 0)
function(pn_bad_input name)
  cmake_parse_arguments(ARG "KEEP" "LABEL;MESSAGE;OUTPUT;RC" "ARGS" ${ARGN})
  if(NOT ARG_RC)
    set(ARG_RC 1)
  endif()
  if(NOT ARG_OUTPUT OR NOT ARG_MESSAGE OR NOT ARG_LABEL)
    message(FATAL_ERROR "pn_bad_input(${name}): LABEL, MESSAGE and OUTPUT are required")
  endif()
  if(ARG_KEEP)
    set(output_check -DKEEP_FILE=${ARG_OUTPUT})
  else()
    set(output_check -DMUST_NOT_EXIST=${ARG_OUTPUT})
  endif()
  string(REPLACE ";" "|" cmd "$<TARGET_FILE:patternnet>;${ARG_ARGS}")
  add_test(NAME bad_input_${name}
           COMMAND ${CMAKE_COMMAND} "-DCMD=${cmd}" -DEXPECT_RC=${ARG_RC} "-DSTDERR_REGEX=${ARG_MESSAGE}" ${output_check}
                   -P ${pn_run_cli})
  set_tests_properties(bad_input_${name} PROPERTIES LABELS "bad_input;${ARG_LABEL}" TIMEOUT 120 FIXTURES_REQUIRED bad_input_files)
  math(EXPR n "${pn_bad_input_count} + 1")
  set(pn_bad_input_count ${n} PARENT_SCOPE)
endfunction()

set(b ${bad_dir})
set(explain_x --input ${b}/x.npy --method gradient)

# --- Model files (safetensors and pn.architecture) --------------------------------------------------
pn_bad_input(model_truncated LABEL ch02 KEEP OUTPUT ${b}/out_truncated.npy
  MESSAGE "model_truncated.safetensors': tensor 'fc1.bias': data_offsets \\[[0-9]+, [0-9]+\\] lie outside the [0-9]+-byte data section"
  ARGS explain --model ${b}/model_truncated.safetensors ${explain_x} --out ${b}/out_truncated.npy)
pn_bad_input(model_header_past_end LABEL ch02 OUTPUT ${b}/out_header_past_end.npy
  MESSAGE "model_header_past_end.safetensors' is truncated: the header claims 4096 bytes but only 5 follow"
  ARGS explain --model ${b}/model_header_past_end.safetensors ${explain_x} --out ${b}/out_header_past_end.npy)
pn_bad_input(model_header_too_large LABEL ch02 KEEP OUTPUT ${b}/out_header_too_large.npy
  MESSAGE "model_header_too_large.safetensors': .*header.*1099511627776"
  ARGS explain --model ${b}/model_header_too_large.safetensors ${explain_x} --out ${b}/out_header_too_large.npy)
pn_bad_input(model_offsets_outside LABEL ch02 OUTPUT ${b}/out_offsets_outside.npy
  MESSAGE "model_offsets_outside.safetensors': .*fc1.bias.*4000000"
  ARGS explain --model ${b}/model_offsets_outside.safetensors ${explain_x} --out ${b}/out_offsets_outside.npy)
pn_bad_input(model_offsets_overlap LABEL ch02 KEEP OUTPUT ${b}/out_offsets_overlap.npy
  MESSAGE "model_offsets_overlap.safetensors': .*overlap"
  ARGS explain --model ${b}/model_offsets_overlap.safetensors ${explain_x} --out ${b}/out_offsets_overlap.npy)
pn_bad_input(model_dtype_bytes LABEL ch02 OUTPUT ${b}/out_dtype_bytes.npy
  MESSAGE "model_dtype_bytes.safetensors': tensor 'fc1.bias': F32 x shape \\(2, 2\\) needs 16 bytes but data_offsets give 8"
  ARGS explain --model ${b}/model_dtype_bytes.safetensors ${explain_x} --out ${b}/out_dtype_bytes.npy)
pn_bad_input(model_unknown_dtype LABEL ch02 KEEP OUTPUT ${b}/out_unknown_dtype.npy
  MESSAGE "model_unknown_dtype.safetensors': .*dtype 'Q4'"
  ARGS explain --model ${b}/model_unknown_dtype.safetensors ${explain_x} --out ${b}/out_unknown_dtype.npy)
pn_bad_input(model_nan_weight LABEL ch02 OUTPUT ${b}/out_nan_weight.npy
  MESSAGE "model_nan.safetensors': tensor 'fc3.weight' holds nan at element 5"
  ARGS explain --model ${b}/model_nan.safetensors ${explain_x} --out ${b}/out_nan_weight.npy)
pn_bad_input(model_no_architecture LABEL ch02 KEEP OUTPUT ${b}/out_no_architecture.npy
  MESSAGE "model_no_architecture.safetensors' carries no pn.architecture metadata.*--arch"
  ARGS explain --model ${b}/model_no_architecture.safetensors ${explain_x} --out ${b}/out_no_architecture.npy)
pn_bad_input(model_unknown_key LABEL ch02 OUTPUT ${b}/out_unknown_key.npy
  MESSAGE "model_unknown_key.safetensors.*unknown key 'activation'"
  ARGS explain --model ${b}/model_unknown_key.safetensors ${explain_x} --out ${b}/out_unknown_key.npy)
pn_bad_input(model_unknown_layer LABEL ch02 KEEP OUTPUT ${b}/out_unknown_layer.npy
  MESSAGE "model_unknown_layer.safetensors.*batchnorm2d"
  ARGS explain --model ${b}/model_unknown_layer.safetensors ${explain_x} --out ${b}/out_unknown_layer.npy)
pn_bad_input(model_missing_tensor LABEL ch02 OUTPUT ${b}/out_missing_tensor.npy
  MESSAGE "model_missing_tensor.safetensors' does not match the model.*missing tensors \\[fc3.bias\\]"
  ARGS explain --model ${b}/model_missing_tensor.safetensors ${explain_x} --out ${b}/out_missing_tensor.npy)
pn_bad_input(model_wrong_shape LABEL ch02 KEEP OUTPUT ${b}/out_wrong_shape.npy
  MESSAGE "model_wrong_shape.safetensors': mis-shaped tensors: fc1.weight is \\(784, 512\\)"
  ARGS explain --model ${b}/model_wrong_shape.safetensors ${explain_x} --out ${b}/out_wrong_shape.npy)
pn_bad_input(model_arch_mismatch LABEL ch02 OUTPUT ${b}/out_arch_mismatch.npy
  MESSAGE "model.safetensors' holds a different network than --arch vgg16"
  ARGS explain --model ${b}/model.safetensors --arch vgg16 ${explain_x} --out ${b}/out_arch_mismatch.npy)
pn_bad_input(model_missing_file LABEL ch02 KEEP OUTPUT ${b}/out_missing_file.npy
  MESSAGE "cannot open safetensors file '.*no-such-model.safetensors'"
  ARGS explain --model ${b}/no-such-model.safetensors ${explain_x} --out ${b}/out_missing_file.npy)

# --- Input batches and images -----------------------------------------------------------------------
set(explain_m explain --model ${b}/model.safetensors --method gradient)
pn_bad_input(npy_fortran_order LABEL ch02 OUTPUT ${b}/out_fortran.npy
  MESSAGE "x_fortran.npy': Fortran-order arrays are not supported"
  ARGS ${explain_m} --input ${b}/x_fortran.npy --out ${b}/out_fortran.npy)
pn_bad_input(npy_int32 LABEL ch02 KEEP OUTPUT ${b}/out_int32.npy
  MESSAGE "x_int32.npy.*<i4"
  ARGS ${explain_m} --input ${b}/x_int32.npy --out ${b}/out_int32.npy)
pn_bad_input(npy_truncated LABEL ch02 OUTPUT ${b}/out_npy_truncated.npy
  MESSAGE "x_truncated.npy.*(truncated|short|bytes)"
  ARGS ${explain_m} --input ${b}/x_truncated.npy --out ${b}/out_npy_truncated.npy)
pn_bad_input(npy_garbage LABEL ch02 KEEP OUTPUT ${b}/out_npy_garbage.npy
  MESSAGE "x_garbage.npy.*(not a .npy|magic)"
  ARGS ${explain_m} --input ${b}/x_garbage.npy --out ${b}/out_npy_garbage.npy)
pn_bad_input(npy_wrong_shape LABEL ch04 OUTPUT ${b}/out_npy_shape.npy
  MESSAGE "expects input of shape \\(N, 1, 28, 28\\), got \\(2, 3\\)"
  ARGS ${explain_m} --input ${b}/x_wrong_shape.npy --out ${b}/out_npy_shape.npy)
pn_bad_input(npy_nan LABEL ch04 KEEP OUTPUT ${b}/out_npy_nan.npy
  MESSAGE "the input contains nan \\(NaN/Inf inputs are refused\\)"
  ARGS ${explain_m} --input ${b}/x_nan.npy --out ${b}/out_npy_nan.npy)
pn_bad_input(npy_inf LABEL ch04 OUTPUT ${b}/out_npy_inf.npy
  MESSAGE "the input contains inf \\(NaN/Inf inputs are refused\\)"
  ARGS ${explain_m} --input ${b}/x_inf.npy --out ${b}/out_npy_inf.npy)
pn_bad_input(npy_missing LABEL ch02 KEEP OUTPUT ${b}/out_npy_missing.npy
  MESSAGE "no-such-input.npy"
  ARGS ${explain_m} --input ${b}/no-such-input.npy --out ${b}/out_npy_missing.npy)
pn_bad_input(image_corrupt LABEL ch04 OUTPUT ${b}/out_image_corrupt.npy
  MESSAGE "cannot decode image file '.*image_corrupt.png'"
  ARGS ${explain_m} --image ${b}/image_corrupt.png --out ${b}/out_image_corrupt.npy)
pn_bad_input(image_too_large LABEL ch04 KEEP OUTPUT ${b}/out_image_huge.npy
  MESSAGE "image_huge.bmp.*30000"
  ARGS ${explain_m} --image ${b}/image_huge.bmp --out ${b}/out_image_huge.npy)

# --- Patterns ---------------------------------------------------------------------------------------
set(explain_pa explain --input ${b}/x.npy --method pattern_attribution)
pn_bad_input(patterns_of_another_model LABEL ch05 OUTPUT ${b}/out_other_patterns.npy
  MESSAGE "patterns.safetensors' holds patterns for another model \\(fingerprint"
  ARGS ${explain_pa} --model ${b}/other_model.safetensors --patterns ${b}/patterns.safetensors --out ${b}/out_other_patterns.npy)
pn_bad_input(patterns_nan LABEL ch05 KEEP OUTPUT ${b}/out_patterns_nan.npy
  MESSAGE "patterns_nan.safetensors': the pattern of layer 'fc2' holds nan at element 3"
  ARGS ${explain_pa} --model ${b}/model.safetensors --patterns ${b}/patterns_nan.safetensors --out ${b}/out_patterns_nan.npy)
pn_bad_input(patterns_file_is_a_model LABEL ch05 OUTPUT ${b}/out_patterns_model.npy
  MESSAGE "model.safetensors' is not a patterns file"
  ARGS ${explain_pa} --model ${b}/model.safetensors --patterns ${b}/model.safetensors --out ${b}/out_patterns_model.npy)
pn_bad_input(patterns_flag_missing LABEL ch05 KEEP OUTPUT ${b}/out_patterns_missing.npy
  MESSAGE "--method pattern_attribution needs --patterns"
  ARGS ${explain_pa} --model ${b}/model.safetensors --out ${b}/out_patterns_missing.npy)

# --- Flags ------------------------------------------------------------------------------------------
pn_bad_input(unknown_method LABEL ch04 OUTPUT ${b}/out_unknown_method.npy
  MESSAGE "unknown method 'saliency'; known methods: gradient"
  ARGS explain --model ${b}/model.safetensors --input ${b}/x.npy --method saliency --out ${b}/out_unknown_method.npy)
pn_bad_input(unknown_arch LABEL ch02 KEEP OUTPUT ${b}/out_unknown_arch.safetensors RC nonzero
  MESSAGE "--arch.*resnet50"
  ARGS train --arch resnet50 --out ${b}/out_unknown_arch.safetensors)
pn_bad_input(target_out_of_range LABEL ch04 OUTPUT ${b}/out_target.npy
  MESSAGE "--target 10 is outside the model's 10 outputs"
  ARGS explain ${explain_x} --model ${b}/model.safetensors --target 10 --out ${b}/out_target.npy)
pn_bad_input(method_and_methods LABEL ch04 KEEP OUTPUT ${b}/out_both.png
  MESSAGE "give either --method NAME \\(one explanation\\) or --methods"
  ARGS explain ${explain_x} --model ${b}/model.safetensors --methods lrp_z --heatmap ${b}/out_both.png)
pn_bad_input(cosine_with_lr_decay LABEL ch02 OUTPUT ${b}/out_cosine.safetensors
  MESSAGE "--lr-decay applies to the constant schedule only"
  ARGS train --arch mlp --data-dir ${b}/data_empty --lr-schedule cosine --lr-decay 0.5 --out ${b}/out_cosine.safetensors)
pn_bad_input(zbox_without_bounds LABEL ch04 KEEP OUTPUT ${b}/out_zbox.npy
  MESSAGE "--method lrp_zbox needs the input bounds --low and --high"
  ARGS explain --model ${b}/model.safetensors --input ${b}/x.npy --method lrp_zbox --out ${b}/out_zbox.npy)

# --- Data folders (Fashion-MNIST) -------------------------------------------------------------------
pn_bad_input(data_folder_missing LABEL ch02 KEEP OUTPUT ${b}/out_data_missing.safetensors
  MESSAGE "no-such-folder.*dataset-fashion-mnist"
  ARGS train --arch mlp --data-dir ${b}/no-such-folder --out ${b}/out_data_missing.safetensors)
pn_bad_input(data_folder_empty LABEL ch02 OUTPUT ${b}/out_data_empty.safetensors
  MESSAGE "data_empty.*dataset-fashion-mnist"
  ARGS train --arch mlp --data-dir ${b}/data_empty --out ${b}/out_data_empty.safetensors)
pn_bad_input(data_corrupt_gzip LABEL ch02 KEEP OUTPUT ${b}/out_data_gzip.safetensors
  MESSAGE "data_corrupt_gzip/train-images-idx3-ubyte.gz.*(gzip|corrupt)"
  ARGS train --arch mlp --data-dir ${b}/data_corrupt_gzip --out ${b}/out_data_gzip.safetensors)
pn_bad_input(data_bad_idx_magic LABEL ch02 OUTPUT ${b}/out_data_magic.safetensors
  MESSAGE "data_bad_magic/train-images-idx3-ubyte.gz' is not an IDX file \\(magic bytes 12 34\\)"
  ARGS train --arch mlp --data-dir ${b}/data_bad_magic --out ${b}/out_data_magic.safetensors)
pn_bad_input(data_truncated_idx LABEL ch02 KEEP OUTPUT ${b}/out_data_truncated.safetensors
  MESSAGE "data_truncated/train-images-idx3-ubyte.gz.*47040000"
  ARGS train --arch mlp --data-dir ${b}/data_truncated --out ${b}/out_data_truncated.safetensors)
pn_bad_input(fit_patterns_data_missing LABEL ch05 OUTPUT ${b}/out_fit_missing.safetensors
  MESSAGE "neither 'fashion-mnist', a .npy file nor a folder"
  ARGS fit-patterns --model ${b}/model.safetensors --data ${b}/no-such-data --estimator linear --out ${b}/out_fit_missing.safetensors)

# --- Outputs ----------------------------------------------------------------------------------------
pn_bad_input(output_folder_missing LABEL ch04 OUTPUT ${b}/out_never.npy
  MESSAGE "cannot write '${b}/no-such-folder/r.npy': folder '${b}/no-such-folder' does not exist"
  ARGS explain ${explain_x} --model ${b}/model.safetensors --out ${b}/no-such-folder/r.npy)
pn_bad_input(output_is_a_folder LABEL ch04 OUTPUT ${b}/out_never2.npy
  MESSAGE "out_is_a_folder.npy.*(folder|directory)"
  ARGS explain ${explain_x} --model ${b}/model.safetensors --out ${b}/out_is_a_folder.npy)
pn_bad_input(fit_patterns_bad_estimator_keeps_output LABEL ch05 KEEP OUTPUT ${b}/out_fit_kept.safetensors
  MESSAGE "unknown estimator 'quadratic'"
  ARGS fit-patterns --model ${b}/model.safetensors --data ${b}/x.npy --estimator quadratic --out ${b}/out_fit_kept.safetensors)
pn_bad_input(quality_identity_keeps_output LABEL ch06 KEEP OUTPUT ${b}/out_quality.csv
  MESSAGE "rho is undefined for identity"
  ARGS quality --model ${b}/model.safetensors --data ${b}/x.npy --estimators identity --out ${b}/out_quality.csv)

message(STATUS "bad-input suite: ${pn_bad_input_count} hostile or mistaken command lines")
