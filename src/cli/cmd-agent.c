/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl agent [--allow|--deny]: a consent agent in the terminal. It
 * registers with devbgd for the user and session it runs in, prints each
 * prompt and reads y/n; with --allow or --deny it answers by itself, and
 * says so (for scripts and the demo).
 */
#include "devbgctl.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "devbg-names.h"

#define AGENT_PATH "/org/devbg/devbgctl/ConsentAgent"
#define MANAGER_IFACE DEVBG_DBUS_MANAGER_INTERFACE

static const char agent_xml[] =
  "<node><interface name='org.devbg.Devbg1.ConsentAgent1'>"
  "<method name='RequestConsent'><arg name='details' type='a{sv}' direction='in'/>"
  "<arg name='allow' type='b' direction='out'/></method>"
  "<method name='CancelConsent'><arg name='prompt_id' type='s' direction='in'/></method>"
  "</interface></node>";

typedef enum { ANSWER_ASK, ANSWER_ALLOW, ANSWER_DENY } AnswerMode;

typedef struct {
  char                  *prompt_id;
  GDBusMethodInvocation *invocation;
} Pending;

typedef struct {
  GMainLoop       *loop;
  GDBusConnection *connection;
  char            *devbgd;   /* devbgd's unique name: the only caller obeyed */
  AnswerMode       mode;
  GQueue           pending;  /* of Pending, the head asked on the terminal */
  GString         *line;
  guint            stdin_watch;
  int              rc;
} Agent;

static void
pending_free (Pending *p)
{
  g_free (p->prompt_id);
  g_clear_object (&p->invocation);
  g_free (p);
}

static const char *
lookup_string (GVariant *details, const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (details, key, "&s", &value))
    return "?";
  return value;
}

/* What the person is asked, in the seed's words. */
static void
print_prompt (GVariant *details)
{
  const char *trigger = lookup_string (details, "trigger");
  g_autofree const char **warnings = NULL;
  guint32 duration = 0;

  g_print ("\nConsent prompt %s\n", lookup_string (details, "prompt-id"));
  if (strcmp (trigger, "servicing") == 0)
    g_print ("  %s (%s) asks to update %s (%s) in the background.\n",
             lookup_string (details, "app-name"), lookup_string (details, "app-id"),
             lookup_string (details, "device-name"), lookup_string (details, "device-id"));
  else
    g_print ("  %s (%s) asks to sync with %s (%s) in the background.\n"
             "  An answer of yes is remembered for this app and this device model\n"
             "  until you revoke it (devbgctl permissions revoke).\n",
             lookup_string (details, "app-name"), lookup_string (details, "app-id"),
             lookup_string (details, "device-name"), lookup_string (details, "device-id"));
  if (g_variant_lookup (details, "warnings", "^a&s", &warnings))
    for (const char **w = warnings; *w != NULL; w++)
      g_print ("  Warning: %s\n", *w);
  if (g_variant_lookup (details, "expected-duration", "u", &duration))
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
  Pending *p = g_queue_pop_head (&agent->pending);

  if (p == NULL)
    return;
  g_dbus_method_invocation_return_value (g_steal_pointer (&p->invocation),
                                         g_variant_new ("(b)", allow));
  g_print ("Answered %s to prompt %s\n", allow ? "allow" : "deny", p->prompt_id);
  fflush (stdout);
  pending_free (p);
  ask_head (agent);
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  Agent *agent = user_data;

  (void) connection; (void) path; (void) iface;
  /* Only devbgd asks: anyone else on the bus could show fake prompts. */
  if (g_strcmp0 (sender, agent->devbgd) != 0)
    {
      g_dbus_method_invocation_return_dbus_error (invocation, "org.freedesktop.DBus.Error.AccessDenied",
                                                  "only devbgd may call a consent agent");
      return;
    }
  if (strcmp (method, "RequestConsent") == 0)
    {
      g_autoptr(GVariant) details = g_variant_get_child_value (params, 0);
      Pending *p = g_new0 (Pending, 1);

      p->prompt_id = g_strdup (lookup_string (details, "prompt-id"));
      p->invocation = invocation;
      print_prompt (details);
      g_queue_push_tail (&agent->pending, p);
      if (agent->mode != ANSWER_ASK)
        {
          g_print ("Answering %s by itself (devbgctl agent --%s)\n",
                   agent->mode == ANSWER_ALLOW ? "allow" : "deny",
                   agent->mode == ANSWER_ALLOW ? "allow" : "deny");
          answer_head (agent, agent->mode == ANSWER_ALLOW);
        }
      else if (g_queue_get_length (&agent->pending) == 1)
        ask_head (agent);
      return;
    }
  /* CancelConsent */
  {
    const char *id;

    g_variant_get (params, "(&s)", &id);
    for (GList *l = agent->pending.head; l != NULL; l = l->next)
      {
        Pending *p = l->data;
        if (strcmp (p->prompt_id, id) == 0)
          {
            gboolean was_head = l == agent->pending.head;
            g_print ("\nPrompt %s was withdrawn by devbgd (no answer in time, or the app left)\n",
                     id);
            fflush (stdout);
            g_queue_delete_link (&agent->pending, l);
            g_dbus_method_invocation_return_dbus_error (g_steal_pointer (&p->invocation),
                                                        DEVBG_DBUS_ERROR_PREFIX "Failed",
                                                        "withdrawn");
            pending_free (p);
            if (was_head)
              ask_head (agent);
            break;
          }
      }
    g_dbus_method_invocation_return_value (invocation, NULL);
  }
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

static void
on_devbgd_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Agent *agent = user_data;

  (void) connection; (void) name;
  g_printerr ("devbgctl agent: devbgd left the bus\n");
  agent->rc = 1;
  g_main_loop_quit (agent->loop);
}

static char *
devbgd_name (GDBusConnection *c, GError **error)
{
  g_autoptr(GVariant) r = g_dbus_connection_call_sync (c, "org.freedesktop.DBus",
                                                       "/org/freedesktop/DBus",
                                                       "org.freedesktop.DBus", "GetNameOwner",
                                                       g_variant_new ("(s)", DEVBG_DBUS_SERVICE),
                                                       G_VARIANT_TYPE ("(s)"),
                                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  char *name = NULL;

  if (r != NULL)
    g_variant_get (r, "(s)", &name);
  return name;
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
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (agent_xml, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  static const GDBusInterfaceVTable vtable = { .method_call = on_method_call };
  Agent agent = { .rc = 0 };
  DevbgClient *client;
  guint object_id, watch;

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
  agent.connection = devbg_client_get_connection (client);
  agent.devbgd = devbgd_name (agent.connection, &error);
  if (agent.devbgd == NULL)
    return devbgctl_fail ("agent", error);
  agent.loop = g_main_loop_new (NULL, FALSE);
  agent.line = g_string_new (NULL);
  g_queue_init (&agent.pending);
  object_id = g_dbus_connection_register_object (agent.connection, AGENT_PATH,
                                                 info->interfaces[0], &vtable, &agent, NULL,
                                                 &error);
  if (object_id == 0)
    return devbgctl_fail ("agent", error);
  reply = g_dbus_connection_call_sync (agent.connection, DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH,
                                       MANAGER_IFACE, "RegisterConsentAgent",
                                       g_variant_new ("(o)", AGENT_PATH), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    return devbgctl_fail ("cannot register as a consent agent", error);
  watch = g_bus_watch_name_on_connection (agent.connection, agent.devbgd,
                                          G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                          on_devbgd_vanished, &agent, NULL);
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

  while (!g_queue_is_empty (&agent.pending))
    answer_head (&agent, FALSE);
  g_clear_pointer (&reply, g_variant_unref);
  reply = g_dbus_connection_call_sync (agent.connection, DEVBG_DBUS_SERVICE, DEVBG_DBUS_PATH,
                                       MANAGER_IFACE, "UnregisterConsentAgent",
                                       g_variant_new ("(o)", AGENT_PATH), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  if (agent.stdin_watch != 0)
    g_source_remove (agent.stdin_watch);
  g_bus_unwatch_name (watch);
  g_dbus_connection_unregister_object (agent.connection, object_id);
  g_dbus_connection_flush_sync (agent.connection, NULL, NULL);
  g_string_free (agent.line, TRUE);
  g_main_loop_unref (agent.loop);
  g_free (agent.devbgd);
  return agent.rc;
}
