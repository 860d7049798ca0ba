// moesweep: the command-line tool.

#include <unistd.h>

#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "moesweep: measure the scaling laws of Mixture-of-Experts models"};
  app.require_subcommand(1);
  moesweep::cli::FitCommandOptions fit;
  moesweep::cli::SynthCommandOptions synth;
  moesweep::cli::PredictCommandOptions predict;
  moesweep::cli::OptimalCommandOptions optimal;
  moesweep::cli::AddFitCommand(&app, &fit);
  moesweep::cli::SimulateCommandOptions simulate;
  moesweep::cli::AddSimulateCommand(&app, &simulate);
  moesweep::cli::AddPredictCommand(&app, &predict);
  moesweep::cli::AddOptimalCommand(&app, &optimal);
  moesweep::cli::AddSynthCommand(&app, &synth);
  moesweep::cli::DataCommandOptions data;
  moesweep::cli::TrainCommandOptions train;
  moesweep::cli::AddDataCommand(&app, &data);
  moesweep::cli::AddTrainCommand(&app, &train);
  moesweep::cli::WorkerCommandOptions worker;
  moesweep::cli::AddWorkerCommand(&app, &worker);
  moesweep::cli::CoordinatorCommandOptions coordinator;
  moesweep::cli::AddCoordinatorCommand(&app, &coordinator);
  moesweep::cli::LawCommandOptions law;
  moesweep::cli::AddLawCommand(&app, &law);
  moesweep::cli::CampaignCommandOptions campaign;
  moesweep::cli::AddCampaignCommand(&app, &campaign);
  moesweep::cli::PlotCommandOptions plot;
  moesweep::cli::AddPlotCommand(&app, &plot);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (app.got_subcommand("fit"))
    return moesweep::cli::RunFitCommand(fit, std::cout, std::cerr);
  if (app.got_subcommand("simulate")) {
    return moesweep::cli::RunSimulateCommand(simulate, std::cout, std::cerr);
  }
  if (app.got_subcommand("predict")) {
    return moesweep::cli::RunPredictCommand(predict, std::cout, std::cerr);
  }
  if (app.got_subcommand("optimal")) {
    return moesweep::cli::RunOptimalCommand(optimal, std::cout, std::cerr);
  }
  if (app.got_subcommand("synth")) {
    return moesweep::cli::RunSynthCommand(synth, std::cout, std::cerr);
  }
  if (app.got_subcommand("data")) {
    return moesweep::cli::RunDataCommand(data, std::cout, std::cerr);
  }
  if (app.got_subcommand("train")) {
    return moesweep::cli::RunTrainCommand(train, std::cout, std::cerr);
  }
  if (app.got_subcommand("worker")) {
    return moesweep::cli::RunWorkerCommand(worker, std::cout, std::cerr);
  }
  if (app.got_subcommand("coordinator")) {
    return moesweep::cli::RunCoordinatorCommand(coordinator, std::cout,
                                                std::cerr);
  }
  if (app.got_subcommand("law")) {
    return moesweep::cli::RunLawCommand(law, std::cout, std::cerr);
  }
  if (app.got_subcommand("campaign")) {
    campaign.terminal = isatty(STDOUT_FILENO) == 1;
    return moesweep::cli::RunCampaignCommand(campaign, std::cout, std::cerr);
  }
  if (app.got_subcommand("plot")) {
    return moesweep::cli::RunPlotCommand(plot, std::cout, std::cerr);
  }
  return 2;
}
