# Writes a C++ file that defines `<FUNCTION>()` returning {file name, content} pairs of FILES
# (names relative to DIR), each content as a raw string literal. Run at build time, so the
# emulators carry the real API documents without a second, hand-kept copy in the source tree.
#   cmake -DDIR=... -DFILES="a.json|b.json" -DOUTPUT=... -DNAMESPACE=... -DFUNCTION=... -DHEADER=...
string(REPLACE "|" ";" FILES "${FILES}")
set(out "// Generated at build time by cmake/EmbedFiles.cmake from ${DIR}; do not edit.\n")
string(APPEND out "#include \"${HEADER}\"\n\nnamespace ${NAMESPACE} {\n\n")
string(APPEND out "const std::vector<EmbeddedFixture>& ${FUNCTION}() {\n")
string(APPEND out "  static const std::vector<EmbeddedFixture> kFiles = {\n")
foreach(name IN LISTS FILES)
  file(READ "${DIR}/${name}" content)
  string(FIND "${content}" ")vcembed\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${name} contains the raw-string delimiter )vcembed\"")
  endif()
  string(APPEND out "      {\"${name}\", R\"vcembed(${content})vcembed\"},\n")
endforeach()
string(APPEND out "  };\n  return kFiles;\n}\n\n}  // namespace ${NAMESPACE}\n")
file(WRITE "${OUTPUT}.tmp" "${out}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
