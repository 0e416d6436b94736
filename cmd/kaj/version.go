package main

import "github.com/kajhq/kaj/internal/buildinfo"

func version() string { return buildinfo.Version() }
