// The `ofa` command-line program: one binary, a subcommand per job (one translation unit each).
// Every failure prints one line, "ofa: error: ...", and exits non-zero.

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include <ofa/errors.hpp>
#include <ofa/version.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ofa " OFA_VERSION_STRING ": train a Once-for-All network on CPUs and specialise it"};
  app.require_subcommand(1);
  app.set_version_flag("--version", OFA_VERSION_STRING);
  ofa_cli::add_info(app);
  ofa_cli::add_profile(app);
  ofa_cli::add_sample(app);
  ofa_cli::add_bench(app);
  ofa_cli::add_train(app);
  ofa_cli::add_latency_table(app);
  ofa_cli::add_accuracy(app);
  ofa_cli::add_search(app);
  ofa_cli::add_export(app);
  ofa_cli::add_import(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ofa: error: %s (see ofa --help)\n", e.what());
    return 2;
  } catch (const ofa::error& e) {
    std::string message = e.what();
    if (message.rfind("ofa: ", 0) == 0) message.erase(0, 5);  // the library's messages start with "ofa: "
    std::fprintf(stderr, "ofa: error: %s\n", message.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ofa: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
