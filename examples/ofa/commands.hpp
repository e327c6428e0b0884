#pragma once
// The subcommands of `ofa`, each defined in its own translation unit (cmd_*.cpp), so that
// they compile in parallel and a change recompiles only its own command.

namespace CLI {
class App;
}

namespace ofa_cli {

void add_info(CLI::App& app);     // cmd_space.cpp
void add_profile(CLI::App& app);  // cmd_space.cpp
void add_sample(CLI::App& app);   // cmd_space.cpp
void add_bench(CLI::App& app);    // cmd_bench.cpp: bench train | infer | peak
void add_data_bench(CLI::App& bench);  // cmd_data.cpp: bench data
void add_train(CLI::App& app);   // cmd_train.cpp: train, eval, plot
void add_latency_table(CLI::App& app);  // cmd_latency.cpp: latency-table
void add_accuracy(CLI::App& app);       // cmd_accuracy.cpp: acc-dataset, fit-predictor
void add_search(CLI::App& app);         // cmd_search.cpp: search
void add_export(CLI::App& app);         // cmd_export.cpp: export
void add_import(CLI::App& app);  // cmd_import.cpp: import --from pytorch, init

}  // namespace ofa_cli
