# Writes OUTPUT, a C++ source holding every file of the web pages (web/) as bytes, with its
# path relative to web/ and a SHA-256 (the ETag). Run as a build step:
#   cmake -DSOURCE_DIR=<web dir> -DOUTPUT=<file.cc> -P embed_web_assets.cmake
file(GLOB_RECURSE files RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/*")
list(SORT files)
set(arrays "")
set(rows "")
set(index 0)
foreach(relative IN LISTS files)
  file(READ "${SOURCE_DIR}/${relative}" hex HEX)
  file(SHA256 "${SOURCE_DIR}/${relative}" digest)
  file(SIZE "${SOURCE_DIR}/${relative}" size)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND arrays "constexpr char kFile${index}[] = {${bytes} '\\0'};\n")
  string(APPEND rows "    {\"${relative}\", std::string_view(kFile${index}, ${size}), \"${digest}\"},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from web/ by cmake/embed_web_assets.cmake; do not edit.\n"
  "#include \"web/embedded_files.h\"\n\nnamespace fs::web {\nnamespace {\n\n${arrays}\n"
  "constexpr EmbeddedFile kFiles[] = {\n${rows}};\n\n}  // namespace\n\n"
  "std::span<const EmbeddedFile> EmbeddedFiles() { return kFiles; }\n\n}  // namespace fs::web\n")
# Only a changed output triggers a recompile.
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
file(REMOVE "${OUTPUT}.tmp")
