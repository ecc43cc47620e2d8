/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbgctl.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const DevbgctlCommand commands[] = {
  { "status", "", "Show the service's state and who devbgd takes you for",
    devbgctl_cmd_status },
  { "registrations", "", "List the calling app's task registrations",
    devbgctl_cmd_registrations },
  { "tasks", "[--watch]", "List the running task instances you may see; --watch: follow them",
    devbgctl_cmd_tasks },
  { "history", "[N]", "List the last N finished task instances (default 100)",
    devbgctl_cmd_history },
  { "cancel", "INSTANCE_ID", "Cancel a running task instance (reason abort)",
    devbgctl_cmd_cancel },
  { "devices", "[--watch]", "List devices; --watch: follow arrivals and removals",
    devbgctl_cmd_devices },
  { "agent", "[--allow|--deny]", "Be the consent agent of this session: show prompts, answer",
    devbgctl_cmd_agent },
  { "permissions", "[revoke APP_ID [MODEL_ID] [--uid UID]]",
    "List stored consent; revoke an app's (another user's: root only)",
    devbgctl_cmd_permissions },
  { "monitor", "", "Live full-screen view of the tasks you may see; c cancels, q quits",
    devbgctl_cmd_monitor },
};

DevbgClient *
devbgctl_client (Devbgctl *ctl)
{
  g_autoptr(GError) error = NULL;

  if (ctl->client == NULL)
    {
      ctl->client = devbg_client_new_sync (NULL, &error);
      if (ctl->client == NULL)
        devbgctl_fail ("cannot connect to the system bus", error);
    }
  return ctl->client;
}

int
devbgctl_fail (const char *context, const GError *error)
{
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    g_printerr ("devbgctl: %s: devbgd is not running\n", context);
  else
    g_printerr ("devbgctl: %s: %s\n", context, error->message);
  return 1;
}

char *
devbgctl_printable (const char *text, gboolean keep_newlines)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p != '\0';)
    {
      gunichar c = g_utf8_get_char_validated (p, -1);
      const char *next;

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      next = g_utf8_next_char (p);
      if ((c < 0x20 && !(keep_newlines && (c == '\n' || c == '\t'))) || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else if (c >= 0x80 && c < 0xa0)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
  return g_string_free (out, FALSE);
}

/* Everything devbgctl prints in text passes here (g_print(), g_printerr()):
 * what devbgd says comes from apps, tasks and devices (an error message, a
 * USB product name), and none of it may drive the terminal. devbgctl's
 * own terminal commands go to stdout directly. */
static void
print_printable (const char *string)
{
  g_autofree char *printable = devbgctl_printable (string, TRUE);

  fputs (printable, stdout);
}

static void
printerr_printable (const char *string)
{
  g_autofree char *printable = devbgctl_printable (string, TRUE);

  fputs (printable, stderr);
}

void
devbgctl_print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
}

void
devbgctl_print_variant_json (GVariant *value)
{
  g_autoptr(JsonNode) node = json_gvariant_serialize (value);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
}

static char *
help_text (void)
{
  GString *s = g_string_new ("Commands:\n");

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *usage = g_strdup_printf ("%s %s", commands[i].name, commands[i].args);

      /* A long usage gets a line of its own. */
      if (strlen (usage) > 28)
        g_string_append_printf (s, "  %s\n  %-28s %s\n", usage, "", commands[i].summary);
      else
        g_string_append_printf (s, "  %-28s %s\n", usage, commands[i].summary);
    }
  g_string_append (s, "\n'devbgctl COMMAND --help' shows a command's usage. devbgctl talks to\n"
                      "devbgd on the system bus, or on the bus named by DBUS_SYSTEM_BUS_ADDRESS.\n"
                      "See devbgctl(1).");
  return g_string_free (s, FALSE);
}

/* "-h" or "--help" anywhere among a command's arguments asks for its
 * usage, not for the command. */
static gboolean
wants_help (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
      return TRUE;
  return FALSE;
}

static int
print_command_help (const DevbgctlCommand *command)
{
  g_print ("Usage:\n  devbgctl [--json] %s%s%s\n\n%s.\n\nSee devbgctl(1).\n", command->name,
           *command->args != '\0' ? " " : "", command->args, command->summary);
  return 0;
}

int
main (int argc, char **argv)
{
  Devbgctl ctl = { 0 };
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &ctl.json, "Print JSON for scripts", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("COMMAND [ARGS...]");
  g_autoptr(GError) error = NULL;
  g_autofree char *help = help_text ();
  int rc;

  setlocale (LC_ALL, "");
  g_set_print_handler (print_printable);
  g_set_printerr_handler (printerr_printable);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_summary (ctx, "Inspect and control devbgd, the device background task service.");
  g_option_context_set_description (ctx, help);
  /* Options after the command belong to the command. */
  g_option_context_set_strict_posix (ctx, TRUE);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("devbgctl: %s\nTry 'devbgctl --help'.\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("devbgctl %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc < 2)
    {
      g_printerr ("devbgctl: no command given\n%s\n", help);
      return 2;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, argv[1]) == 0)
      {
        if (wants_help (argc - 1, argv + 1))
          return print_command_help (&commands[i]);
        rc = commands[i].run (&ctl, argc - 1, argv + 1);
        g_clear_object (&ctl.client);
        return rc;
      }
  g_printerr ("devbgctl: unknown command '%s'\nTry 'devbgctl --help'.\n", argv[1]);
  return 2;
}
