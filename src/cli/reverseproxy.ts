#!/usr/bin/env node
import './early'
import { runProgram } from './run'
import { reverseproxy } from './programs'

void runProgram(reverseproxy, process.argv.slice(2))
