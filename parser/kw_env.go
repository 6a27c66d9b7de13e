package parser

var envKeywordTable = []keyword{
	{name: "setenv", where: secGlobal, apply: kwEnv},
	{name: "presetenv", where: secGlobal, apply: kwEnv},
	{name: "resetenv", where: secGlobal, apply: kwEnv},
	{name: "unsetenv", where: secGlobal, apply: kwEnv},
}

func init() { register(envKeywordTable) }

// kwEnv checks a setenv, presetenv, resetenv or unsetenv line. The reader
// already applied it (see envLine), so that the lines after it were
// expanded with the new environment, as haproxy does.
func kwEnv(c *compiler, _ *proxy, g *Generic, args []string) {
	name := c.value(g.Keyword)
	if _, err := applyEnvKeyword(c.envAt(g.Pos), name, args); err != nil {
		c.errorf(g.Pos, "%v", err)
		return
	}
	if (name == "setenv" || name == "presetenv") && len(args) > 2 {
		c.warnf(g.Args[2].Pos, "'%s' ignores '%s' and the words after it, as haproxy does", name, args[2])
	}
}
