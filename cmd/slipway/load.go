package main

import "errors"

func load(args []string) error { return errors.New("load: not built yet") }
