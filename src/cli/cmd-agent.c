/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl agent [--allow|--deny]: a consent agent in the terminal, a
 * DevbgConsentAgent of libdevbg. It registers with devbgd for the user and
 * session it runs in, prints each prompt and reads y/n; with --allow or
 * --deny it answers by itself, and says so (for scripts and the demo).
 */
#include "devbgctl.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef enum { ANSWER_ASK, ANSWER_ALLOW, ANSWER_DENY } AnswerMode;

typedef struct {
  GMainLoop         *loop;
  DevbgConsentAgent *agent;
  AnswerMode         mode;
  GQueue             pending;  /* of DevbgConsentPrompt, the head asked on the terminal */
  GString           *line;
  guint              stdin_watch;
  int                rc;
} Agent;

/* What the person is asked, in the seed's words. */
static void
print_prompt (DevbgConsentPrompt *prompt)
{
  const char * const *warnings = devbg_consent_prompt_get_warnings (prompt);
  const char *app_name = devbg_consent_prompt_get_app_name (prompt);
  const char *app_id = devbg_consent_prompt_get_app_id (prompt);
  const char *device_name = devbg_consent_prompt_get_device_name (prompt);
  const char *device_id = devbg_consent_prompt_get_device_id (prompt);
  gboolean servicing = devbg_consent_prompt_get_trigger_type (prompt) == DEVBG_TRIGGER_SERVICING;
  guint duration = devbg_consent_prompt_get_expected_duration_s (prompt);

  g_print ("\nConsent prompt %s\n", devbg_consent_prompt_get_prompt_id (prompt));
  /* The ID, which devbgd vouches for, first: the name after it is the
   * app's own claim (its manifest's DisplayName), and the app ID when it
   * has none. Plain quotes, which a name cannot contain, whatever the
   * terminal's charset. */
  if (g_strcmp0 (app_name, app_id) != 0)
    g_print ("  %s (\"%s\")", app_id, app_name);
  else
    g_print ("  %s", app_id);
  if (servicing)
    g_print (" asks to update %s (%s) in the background.\n", device_name, device_id);
  else
    g_print (" asks to sync with %s (%s) in the background.\n", device_name, device_id);
  if (devbg_consent_prompt_get_remembered (prompt))
    g_print ("  An answer of yes is remembered for this app and this device model\n"
             "  until you revoke it (devbgctl permissions revoke).\n");
  for (const char * const *w = warnings; *w != NULL; w++)
    g_print ("  Warning: %s\n", *w);
  if (servicing)
    {
      if (duration > 0)
        g_print ("  Estimated time: %u min %u s\n", duration / 60, duration % 60);
      else
        g_print ("  Estimated time: not given by the app\n");
    }
  fflush (stdout);
}

static void
ask_head (Agent *agent)
{
  if (agent->mode == ANSWER_ASK && !g_queue_is_empty (&agent->pending))
    {
      g_print ("Allow? [y/N] ");
      fflush (stdout);
    }
}

static void
answer_head (Agent *agent, gboolean allow)
{
  g_autoptr(DevbgConsentPrompt) prompt = g_queue_pop_head (&agent->pending);
  g_autoptr(GError) error = NULL;

  if (prompt == NULL)
    return;
  if (devbg_consent_prompt_answer (prompt, allow, &error))
    g_print ("Answered %s to prompt %s\n", allow ? "allow" : "deny",
             devbg_consent_prompt_get_prompt_id (prompt));
  else
    g_print ("Not answered: %s\n", error->message);
  fflush (stdout);
  ask_head (agent);
}

static void
on_prompt (DevbgConsentAgent *consent_agent, DevbgConsentPrompt *prompt, gpointer user_data)
{
  Agent *agent = user_data;

  (void) consent_agent;
  print_prompt (prompt);
  g_queue_push_tail (&agent->pending, g_object_ref (prompt));
  if (agent->mode != ANSWER_ASK)
    {
      g_print ("Answering %s by itself (devbgctl agent --%s)\n",
               agent->mode == ANSWER_ALLOW ? "allow" : "deny",
               agent->mode == ANSWER_ALLOW ? "allow" : "deny");
      answer_head (agent, agent->mode == ANSWER_ALLOW);
    }
  else if (g_queue_get_length (&agent->pending) == 1)
    ask_head (agent);
}

static void
on_prompt_withdrawn (DevbgConsentAgent *consent_agent, DevbgConsentPrompt *prompt,
                     gpointer user_data)
{
  Agent *agent = user_data;
  GList *l = g_queue_find (&agent->pending, prompt);
  gboolean was_head = l != NULL && l == agent->pending.head;

  (void) consent_agent;
  if (l == NULL)
    return;
  g_print ("\nPrompt %s was withdrawn by devbgd (no answer in time, or the app left)\n",
           devbg_consent_prompt_get_prompt_id (prompt));
  fflush (stdout);
  g_queue_delete_link (&agent->pending, l);
  g_object_unref (prompt);
  if (was_head)
    ask_head (agent);
}

static gboolean
on_stdin (int fd, GIOCondition condition, gpointer user_data)
{
  Agent *agent = user_data;
  char buf[256];
  ssize_t n = read (fd, buf, sizeof buf);

  (void) condition;
  if (n <= 0)
    {
      /* No one to ask any more: what is open is denied, the rest too. */
      g_print ("\nThe terminal closed; denying what is open and stopping\n");
      while (!g_queue_is_empty (&agent->pending))
        answer_head (agent, FALSE);
      g_main_loop_quit (agent->loop);
      agent->stdin_watch = 0;
      return G_SOURCE_REMOVE;
    }
  g_string_append_len (agent->line, buf, n);
  for (char *nl; (nl = strchr (agent->line->str, '\n')) != NULL;)
    {
      g_autofree char *word = g_strstrip (g_strndup (agent->line->str, nl - agent->line->str));
      g_string_erase (agent->line, 0, nl - agent->line->str + 1);
      if (g_queue_is_empty (&agent->pending))
        continue;
      if (g_ascii_strcasecmp (word, "y") == 0 || g_ascii_strcasecmp (word, "yes") == 0)
        answer_head (agent, TRUE);
      else if (*word == '\0' || g_ascii_strcasecmp (word, "n") == 0 ||
               g_ascii_strcasecmp (word, "no") == 0)
        answer_head (agent, FALSE);
      else
        ask_head (agent);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (((Agent *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

/* devbgd left the bus: this agent's prompts are over, and so is it. */
static void
on_registered_changed (DevbgConsentAgent *consent_agent, GParamSpec *pspec, gpointer user_data)
{
  Agent *agent = user_data;

  (void) pspec;
  if (devbg_consent_agent_get_registered (consent_agent))
    return;
  g_printerr ("devbgctl agent: devbgd left the bus\n");
  agent->rc = 1;
  g_main_loop_quit (agent->loop);
}

int
devbgctl_cmd_agent (Devbgctl *ctl, int argc, char **argv)
{
  gboolean allow = FALSE, deny = FALSE;
  const GOptionEntry entries[] = {
    { "allow", 0, 0, G_OPTION_ARG_NONE, &allow, "Answer every prompt allow, and say so", NULL },
    { "deny", 0, 0, G_OPTION_ARG_NONE, &deny, "Answer every prompt deny, and say so", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- a consent agent in this terminal");
  g_autoptr(GError) error = NULL;
  Agent agent = { .rc = 0 };
  DevbgClient *client;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc > 1 || (allow && deny))
    {
      g_printerr ("devbgctl agent: %s\n",
                  error ? error->message : "takes --allow or --deny (not both) and no arguments");
      return 2;
    }
  agent.mode = allow ? ANSWER_ALLOW : deny ? ANSWER_DENY : ANSWER_ASK;
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  agent.agent = devbg_consent_agent_new (client, NULL);
  g_signal_connect (agent.agent, "prompt", G_CALLBACK (on_prompt), &agent);
  g_signal_connect (agent.agent, "prompt-withdrawn", G_CALLBACK (on_prompt_withdrawn), &agent);
  if (!devbg_consent_agent_register_sync (agent.agent, NULL, &error))
    {
      g_object_unref (agent.agent);
      /* devbgd absent: said as every command says it. */
      if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
          g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
        return devbgctl_fail ("agent", error);
      return devbgctl_fail ("cannot register as a consent agent", error);
    }
  g_signal_connect (agent.agent, "notify::registered", G_CALLBACK (on_registered_changed),
                    &agent);
  agent.loop = g_main_loop_new (NULL, FALSE);
  agent.line = g_string_new (NULL);
  g_queue_init (&agent.pending);
  if (agent.mode == ANSWER_ASK)
    agent.stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &agent);
  g_unix_signal_add (SIGINT, on_signal, &agent);
  g_unix_signal_add (SIGTERM, on_signal, &agent);
  g_print ("Consent agent of uid %u registered%s; waiting for prompts (Ctrl-C stops)\n",
           (unsigned) getuid (),
           agent.mode == ANSWER_ALLOW ? ", answering allow by itself"
           : agent.mode == ANSWER_DENY ? ", answering deny by itself" : "");
  fflush (stdout);

  g_main_loop_run (agent.loop);

  g_signal_handlers_disconnect_by_data (agent.agent, &agent);
  while (!g_queue_is_empty (&agent.pending))
    answer_head (&agent, FALSE);
  /* Told devbgd before leaving; a failure here changes nothing (devbgd
   * forgets an agent that leaves the bus anyway). */
  devbg_consent_agent_unregister_sync (agent.agent, NULL, NULL);
  if (agent.stdin_watch != 0)
    g_source_remove (agent.stdin_watch);
  g_object_unref (agent.agent);
  g_dbus_connection_flush_sync (devbg_client_get_connection (client), NULL, NULL);
  g_string_free (agent.line, TRUE);
  g_main_loop_unref (agent.loop);
  return agent.rc;
}
