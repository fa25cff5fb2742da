/**
 * `switchyard serve [--config FILE] [--port N]`. `GATEWAY_CONFIG` and `PORT` in the
 * environment do the same as the flags.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Config from "./Config.js"
import * as Server from "./Server.js"

const config = Options.file("config", { exists: "either" }).pipe(
  Options.withAlias("c"),
  Options.withDescription("YAML or JSON configuration file (default: $GATEWAY_CONFIG, else the embedded default)"),
  Options.optional
)

const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("port to listen on (default: $PORT, else server.port, else 8080)"),
  Options.optional
)

const serve = Command.make("serve", { config, port }, (flags) => {
  const env = {
    ...process.env,
    ...Option.match(flags.port, { onNone: () => ({}), onSome: (p) => ({ PORT: String(p) }) })
  }
  const path = Option.getOrUndefined(flags.config) ?? (process.env.GATEWAY_CONFIG || undefined)
  return Config.load(path, env).pipe(
    Effect.flatMap((settings) => Layer.launch(Server.layer(settings))),
    // A bad configuration is the operator's to fix: say what is wrong, exit non-zero, no stack.
    Effect.catchTag("ConfigError", (error) =>
      Console.error(error.message).pipe(Effect.zipRight(Effect.sync(() => {
        process.exitCode = 1
      }))))
  )
}).pipe(Command.withDescription("Run the gateway's HTTP server"))

/** @since 0.1.0 @category Commands */
export const command = Command.make("switchyard").pipe(
  Command.withDescription("Switchyard: an AI gateway"),
  Command.withSubcommands([serve])
)

/** @since 0.1.0 @category Commands */
export const run = Command.run(command, { name: "switchyard", version: "0.1.0" })
