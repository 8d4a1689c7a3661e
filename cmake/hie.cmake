# Build helpers: every library, test and generated proto goes through one of these.

# hie_cc_library(NAME name SRCS a.cc ... [DEPS dep ...])
# A static library whose headers are included by their path from the repository root.
function(hie_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# hie_cc_binary(NAME name SRCS main.cc ... [DEPS dep ...])
function(hie_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

# hie_cc_test(NAME name SRCS a_test.cc ... [DEPS dep ...] [LABELS l ...])
# A GoogleTest binary; every TEST is registered with ctest on its own.
function(hie_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  # Where tests find shipped files (deploy/, examples): the checkout they were built from.
  target_compile_definitions(${ARG_NAME} PRIVATE HIE_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${labels}"
               ENVIRONMENT "HIE_BIN_DIR=${CMAKE_BINARY_DIR}/bin;HIE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# hie_proto_library(NAME name GRPC_NAME grpc_name PROTOS a.proto ...)
# Generates C++ into the build tree: NAME holds the messages (protobuf only, safe for
# domain libraries); GRPC_NAME adds the services and their gMock stubs (links gRPC).
function(hie_proto_library)
  cmake_parse_arguments(ARG "" "NAME;GRPC_NAME" "PROTOS" ${ARGN})
  set(out ${CMAKE_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  set(msg_srcs)
  set(grpc_srcs)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(abs ${proto} ABSOLUTE)
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${abs})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(pb_cc ${out}/${base}.pb.cc)
    set(pb_h ${out}/${base}.pb.h)
    set(grpc_cc ${out}/${base}.grpc.pb.cc)
    set(grpc_h ${out}/${base}.grpc.pb.h)
    set(mock_h ${out}/${base}_mock.grpc.pb.h)
    add_custom_command(
      OUTPUT ${pb_cc} ${pb_h} ${grpc_cc} ${grpc_h} ${mock_h}
      COMMAND protobuf::protoc
      ARGS --proto_path=${PROJECT_SOURCE_DIR}
           --cpp_out=${out}
           --grpc_out=generate_mock_code=true:${out}
           --plugin=protoc-gen-grpc=${HIE_GRPC_CPP_PLUGIN}
           ${rel}
      DEPENDS ${abs} protobuf::protoc
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(APPEND msg_srcs ${pb_cc})
    list(APPEND grpc_srcs ${grpc_cc})
  endforeach()
  add_library(${ARG_NAME} STATIC ${msg_srcs})
  target_include_directories(${ARG_NAME} PUBLIC ${out})
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf)
  add_library(${ARG_GRPC_NAME} STATIC ${grpc_srcs})
  target_include_directories(${ARG_GRPC_NAME} PUBLIC ${out})
  target_link_libraries(${ARG_GRPC_NAME} PUBLIC ${ARG_NAME} gRPC::grpc++)
endfunction()

# hie_embed_files(NAME name NAMESPACE ns FUNCTION fn BASE dir FILES a.css js/b.js ...)
# A library whose `const std::vector<hie::http::EmbeddedFile>& ns::fn()` holds the
# files' bytes, read at build time (rebuilt when one changes): web assets travel inside
# the daemon, never fetched at run time.
function(hie_embed_files)
  cmake_parse_arguments(ARG "" "NAME;NAMESPACE;FUNCTION;BASE" "FILES" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.cc)
  set(deps)
  foreach(f ${ARG_FILES})
    list(APPEND deps ${ARG_BASE}/${f})
  endforeach()
  string(REPLACE ";" "|" files "${ARG_FILES}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DBASE=${ARG_BASE} -DNAMESPACE=${ARG_NAMESPACE}
            -DFUNCTION=${ARG_FUNCTION} "-DFILES=${files}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    DEPENDS ${deps} ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    COMMENT "Embedding ${ARG_NAME}"
    VERBATIM)
  hie_cc_library(NAME ${ARG_NAME} SRCS ${out} DEPS hie_http)
endfunction()
